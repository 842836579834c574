/** @module Micro benchmark: what routing a call through the terminal's actor (registry lookup + mailbox) adds, beside one RSA-2048 verify. */
import { ActorRegistry, type Actor } from '../src/actors/registry.js';
import { Mailbox } from '../src/actors/mailbox.js';
import { runMicroCli, type MicroSuite, type MicroTask } from './lib/micro-runner.js';
import { reference } from './lib/openssl-speed.js';

const KEYS = 10_000;
const IDLE_MS = 60_000;

/** The trivial actor, answering at once as a ping does: the hop's own cost is all that is measured. */
class EchoActor implements Actor<number, number> {
  handle(command: number): number {
    return command + 1;
  }
}

/** The same answering through a promise, as a call that waits for a write (a cash event) does. */
class PromisingEchoActor implements Actor<number, number> {
  async handle(command: number): Promise<number> {
    return command + 1;
  }
}

let sum = 0;
const registries: ActorRegistry<number, number>[] = [];

/** An idle actor's answer comes in the caller's turn; anything else here would be a broken mailbox, not a slow one. */
function atOnce(answer: number | Promise<number>): number {
  if (answer instanceof Promise) throw new Error('an idle actor that answers at once answered with a promise');
  return answer;
}

export const suite: MicroSuite = {
  id: 'actor-hop',
  question: 'What does one actor hop (ActorRegistry.ask → mailbox → handle → reply) cost, and what part is the mailbox?',
  openssl: ['rsa2048'],
  notes: [
    'ratio = hops per verify: N means one hop costs 1/N of an RSA-2048 verify (openssl).',
    'Asks run one after another (a terminal\'s calls are sequential), so every one finds its actor idle; each sample is the mean of a batch of 100.',
    'An idle actor runs the message in the caller\'s turn: an actor that answers at once (a ping) is answered with no promise, one that answers with a promise (a cash event\'s write) is awaited.',
  ],
  setup(): MicroTask[] {
    const actor = new EchoActor();
    const promising = new PromisingEchoActor();
    const mailbox = new Mailbox();
    const hot = new ActorRegistry<number, number>(() => new EchoActor(), IDLE_MS);
    const fleet = new ActorRegistry<number, number>(() => new EchoActor(), IDLE_MS);
    const promisingHot = new ActorRegistry<number, number>(() => new PromisingEchoActor(), IDLE_MS);
    registries.push(hot, fleet, promisingHot);
    const serials = Array.from({ length: KEYS }, (_, i) => `BENCH-${String(i).padStart(6, '0')}`);
    let i = 0;
    const ref = (o: Parameters<typeof reference>[0]) => reference(o, 'rsa2048.verify');
    return [
      { name: 'actor.handle called directly (no hop)', batch: 100, fn: () => (sum += actor.handle(1)), reference: ref },
      { name: 'Mailbox.post, answered at once', batch: 100, fn: () => (sum += atOnce(mailbox.post(() => actor.handle(1)))), reference: ref },
      { name: 'ActorRegistry.ask, one hot actor, answered at once', batch: 100, fn: () => (sum += atOnce(hot.ask('BENCH-HOT', 1))), reference: ref },
      {
        name: `ActorRegistry.ask, ${KEYS.toLocaleString('en-US')} actors round robin, answered at once`, batch: 100,
        fn: () => (sum += atOnce(fleet.ask(serials[i++ % KEYS]!, 1))),
        reference: ref,
      },
      { name: 'await actor.handle of an async actor (no hop)', async: true, batch: 100, fn: async () => (sum += await promising.handle(1)), reference: ref },
      { name: 'ActorRegistry.ask, one hot async actor, awaited', async: true, batch: 100, fn: async () => (sum += await promisingHot.ask('BENCH-HOT', 1)), reference: ref },
    ];
  },
  teardown() {
    for (const r of registries) r.close();
    if (sum === 0) throw new Error('no actor answered');
  },
};

await runMicroCli(suite);
