/**
 * @module Pairing attempts with serials nobody created, or with a paired serial and key after key, from anyone who
 * reaches the open gate: each is answered as the protocol says, but the pushes to operators' screens are bounded, and
 * what was held back is counted in the log.
 */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/admin/admin-client.js';
import type { AdminPush } from '../../src/protocol/types.js';
import { addOperator, connectOperator, nextPush, pairRawTerminal } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;
let alice: AdminClient;

beforeAll(async () => {
  // Budgets wide enough that the gate's rate limit, not the push budget, would be the only bound without it.
  server = await startServerProcess({ extraArgs: ['--gate-rate', '1000', '--gate-global-rate', '1000'] });
  alice = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
  await alice.request('subscribe', { topics: ['terminals'] });
  await alice.request('gate.open', { minutes: 10 });
});

afterAll(async () => {
  await alice?.close();
  await server?.stop();
});

/** What the log's `prefix` lines say was held back, so far. */
const held = (prefix: string): number =>
  server.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith(prefix)).reduce((sum, l) => sum + Number(l.count), 0);

/**
 * At most 10 pushes in each of the budget's seconds, counted from what this process saw: each second begins with an
 * alert that is pushed, every alert came after `since` (its request was sent then or later) and before the last push
 * arrived here (now). So however slow the machine, no more seconds began than fit between the two. A fixed 21 (two
 * seconds' worth and the late one), before, failed a flood slow enough to straddle three.
 */
function expectAtMostTenASecond(pushed: number, since: number): void {
  const seconds = Math.floor((performance.now() - since) / 1000) + 1;
  expect(pushed, `${pushed} pushes in at most ${seconds} budget seconds`).toBeLessThanOrEqual(10 * seconds);
}

const attempt = (serial: string) =>
  RawTerminal.create(serial).gate(server.gateUrl, { commitment: crypto.randomBytes(32).toString('base64') });

describe('a flood of unknown serials', () => {
  it('is refused and listed, pushed at most 10 a second, and the rest counted in the log', async () => {
    const pushes: AdminPush[] = [];
    alice.on('event', (push) => {
      if (push.event === 'terminal.unknown_serial') pushes.push(push);
    });
    const flood = Array.from({ length: 40 }, (_, i) => `FLOOD-${String(i).padStart(2, '0')}`);
    const floodSent = performance.now();
    const replies = await Promise.all(flood.map(attempt));
    expect(replies.map((r) => r.json?.error)).toEqual(flood.map(() => 'unknown_serial'));
    // One more after the flood's second(s): the budget's new second reports what the last one held back.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const late = nextPush(alice, (p) => p.event === 'terminal.unknown_serial' && p.data.serial === 'FLOOD-LATE');
    await attempt('FLOOD-LATE');
    await late; // the first of its second: pushed
    expectAtMostTenASecond(pushes.length, floodSent);
    await expect.poll(() => pushes.length + held('unknown-serial alerts beyond')).toBe(flood.length + 1);
    // Every attempt is in the list all the same.
    const listed = await alice.request<Array<{ serial: string }>>('unknown.list');
    expect(listed.map((u) => u.serial).sort()).toEqual([...flood, 'FLOOD-LATE'].sort());
    // Tried again at once, a serial gets no second warning line: the gate's refusal lines, within their budget, have each attempt.
    await Promise.all(Array.from({ length: 10 }, () => attempt('FLOOD-00')));
    await server.waitForLog((l) => l.msg === 'terminal request refused' && l.serial === 'FLOOD-00' && l.error === 'unknown_serial');
    expect(server.logs.filter((l) => l.msg === 'pairing attempt with an unknown serial' && l.serial === 'FLOOD-00')).toHaveLength(1);
    // Created, a serial leaves the list: what is left is what operators still have to look into.
    await alice.request('terminals.create', { serial: 'FLOOD-LATE' });
    const after = await alice.request<Array<{ serial: string }>>('unknown.list');
    expect(after.map((u) => u.serial).sort()).toEqual(flood);
  });
});

describe('a flood of new keys for a paired serial', () => {
  it('answers each, pushes at most 10 a second, and counts the rest in the log', async () => {
    const genuine = RawTerminal.create('FLOOD-PAIRED');
    await pairRawTerminal(alice, server, genuine);
    const pushes: AdminPush[] = [];
    alice.on('event', (push) => {
      if (push.event === 'terminal.new_fingerprint') pushes.push(push);
    });
    // Commits only: a request without a code gives its place to the next key, so every one of them is filed.
    const keys = Array.from({ length: 40 }, () => RawTerminal.create(genuine.serial));
    const commit = (t: RawTerminal) => t.gate(server.gateUrl, { commitment: crypto.randomBytes(32).toString('base64') });
    const floodSent = performance.now();
    const replies = await Promise.all(keys.map(commit));
    expect(replies.map((r) => r.status)).toEqual(keys.map(() => 202));
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const late = RawTerminal.create(genuine.serial);
    const latePush = nextPush(alice, (p) => p.event === 'terminal.new_fingerprint' && p.data.tfp === late.tfp);
    expect((await commit(late)).status).toBe(202);
    await latePush;
    expectAtMostTenASecond(pushes.length, floodSent);
    await expect.poll(() => pushes.length + held('new-fingerprint alerts beyond 10 a second')).toBe(keys.length + 1);
    // Each one still has its warning line, and the genuine terminal is still trusted.
    expect(server.logs.filter((l) => l.msg === 'a paired serial asks to pair with another certificate' && l.serial === genuine.serial)).toHaveLength(keys.length + 1);
    expect((await genuine.send(server.masterUrl, '/api/v1/ping', { body: '{}' })).status).toBe(200);
  });
});
