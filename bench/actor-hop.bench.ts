/** @module Micro benchmark: what routing a call through the terminal's actor (registry lookup + mailbox) adds, beside one RSA-2048 verify. */
import { ActorRegistry, type Actor } from '../src/actors/registry.js';
import { Mailbox } from '../src/actors/mailbox.js';
import { runMicroCli, type MicroSuite, type MicroTask } from './lib/micro-runner.js';
import { reference } from './lib/openssl-speed.js';

const KEYS = 10_000;
const IDLE_MS = 60_000;

/** The trivial actor: the hop's own cost is all that is measured. */
class EchoActor implements Actor<number, number> {
  async handle(command: number): Promise<number> {
    return command + 1;
  }
}

let sum = 0;
const registries: ActorRegistry<number, number>[] = [];

export const suite: MicroSuite = {
  id: 'actor-hop',
  question: 'What does one actor hop (ActorRegistry.ask → mailbox → handle → reply) cost, and what part is the mailbox?',
  openssl: ['rsa2048'],
  notes: [
    'ratio = hops per verify: N means one hop costs 1/N of an RSA-2048 verify (openssl).',
    'Asks are awaited one after another (a terminal\'s calls are sequential); each sample is the mean of a batch of 100.',
  ],
  setup(): MicroTask[] {
    const actor = new EchoActor();
    const mailbox = new Mailbox();
    const hot = new ActorRegistry<number, number>(() => new EchoActor(), IDLE_MS);
    const fleet = new ActorRegistry<number, number>(() => new EchoActor(), IDLE_MS);
    registries.push(hot, fleet);
    const serials = Array.from({ length: KEYS }, (_, i) => `BENCH-${String(i).padStart(6, '0')}`);
    let i = 0;
    const ref = (o: Parameters<typeof reference>[0]) => reference(o, 'rsa2048.verify');
    return [
      { name: 'direct await actor.handle (no hop)', async: true, batch: 100, fn: async () => (sum += await actor.handle(1)), reference: ref },
      { name: 'Mailbox.post', async: true, batch: 100, fn: async () => (sum += await mailbox.post(() => actor.handle(1))), reference: ref },
      { name: 'ActorRegistry.ask, one hot actor', async: true, batch: 100, fn: async () => (sum += await hot.ask('BENCH-HOT', 1)), reference: ref },
      {
        name: `ActorRegistry.ask, ${KEYS.toLocaleString('en-US')} actors round robin`, async: true, batch: 100,
        fn: async () => (sum += await fleet.ask(serials[i++ % KEYS]!, 1)),
        reference: ref,
      },
    ];
  },
  teardown() {
    for (const r of registries) r.close();
    if (sum === 0) throw new Error('no actor answered');
  },
};

await runMicroCli(suite);
