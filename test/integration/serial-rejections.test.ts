/**
 * @module `pairing.reject {serial}` / `cas pairing reject --serial` against the real server: pending requests for one
 * serial, made by terminals with keys of their own at an open gate, are all rejected through the terminal's actor and
 * audited with their TFPs, while the terminal paired with that serial and another serial's request are untouched;
 * without a terminal to ask on, cas refuses unless --yes; and it says so when nothing waits.
 */
import crypto from 'node:crypto';
import https from 'node:https';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PENDING_PER_SERIAL } from '../../src/actors/pairing-flow.js';
import type { AdminClient } from '../../src/admin/admin-client.js';
import { runCli } from '../../src/admin/cli.js';
import { formatFingerprint } from '../../src/crypto/fingerprint.js';
import { commitmentOf } from '../../src/crypto/pairing-code.js';
import type { AuditEntry, PairingView, TerminalView } from '../../src/protocol/types.js';
import { casCli, ok } from '../helpers/cli.js';
import { addOperator, casSession, connectOperator, nextPush, nextTotp, pairRawTerminal, type Cas } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, tempDir, type ServerProcess } from '../helpers/server-process.js';

const SERIAL = 'REJ-0001';
const OTHER = 'REJ-0002';

let server: ServerProcess;
let alice: AdminClient;
let cas: Cas;
let human: Cas;
const owner = RawTerminal.create(SERIAL);
const claimants = [RawTerminal.create(SERIAL), RawTerminal.create(SERIAL, 'rsa'), RawTerminal.create(SERIAL)];
const bystander = RawTerminal.create(OTHER);
let claims: { requestId: string }[];
let bystanderRequest: string;

const pending = async (serial: string) => (await alice.request<{ requests: PairingView[] }>('pairing.list', { state: 'pending', serial })).requests;

beforeAll(async () => {
  server = await startServerProcess();
  const operator = await addOperator(server.dataDir, 'alice');
  alice = await connectOperator(server, operator);
  await alice.request('gate.open', { minutes: 10 });
  await pairRawTerminal(alice, server, owner);
  // Anyone who knows the serial, at the open gate, with keys of their own.
  claims = [];
  for (const claimant of claimants) claims.push(await claimant.requestPairing(server.gateUrl, server.sfp));
  await alice.request('terminals.create', { serial: OTHER });
  ({ requestId: bystanderRequest } = await bystander.requestPairing(server.gateUrl, server.sfp));
  human = await casSession(server, await addOperator(server.dataDir, 'bob'), { json: false });
  cas = (args, stdin) => human(['--json', ...args], stdin);
}, 60_000);

afterAll(async () => {
  await alice?.close();
  await server?.stop();
});

describe('cas pairing reject --serial', () => {
  it('refuses without --yes when there is no terminal to ask on, and rejects nothing', async () => {
    const refused = await cas(['pairing', 'reject', '--serial', SERIAL]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('pass --yes');
    expect((await pending(SERIAL)).length).toBe(3);
    for (const args of [['pairing', 'reject'], ['pairing', 'reject', claims[0]!.requestId, '--serial', SERIAL], ['pairing', 'reject', claims[0]!.requestId, '--yes']]) {
      expect((await cas(args)).code).toBe(2);
    }
  });

  it('rejects every pending request of the serial, whichever key made it, and leaves the paired terminal and other serials alone', async () => {
    const done = ok(await cas(['pairing', 'reject', '--serial', SERIAL, '--yes'])) as { serial: string; rejected: PairingView[] };
    expect(done.serial).toBe(SERIAL);
    expect(done.rejected.map((r) => r.tfp)).toEqual(claimants.map((c) => c.tfp));
    expect(done.rejected.every((r) => r.state === 'rejected' && r.decidedBy === 'bob')).toBe(true);
    expect(await pending(SERIAL)).toEqual([]);
    // Rejected as one reject rejects: each key's next gate contact is refused.
    for (const [i, claimant] of claimants.entries()) {
      expect((await claimant.gate(server.gateUrl, { requestId: claims[i]!.requestId })).json.error).toBe('pairing_rejected');
    }
    const terminal = await alice.request<TerminalView>('terminals.get', { serial: SERIAL });
    expect(terminal).toMatchObject({ state: 'paired', tfp: owner.tfp });
    expect((await owner.send(server.masterUrl, '/api/v1/ping', { body: '{}' })).status).toBe(200);
    expect((await pending(OTHER)).map((r) => r.requestId)).toEqual([bystanderRequest]);
  });

  it('audits it once, with how many and which TFPs, on the serial\'s trail', async () => {
    const [entry] = await alice.request<AuditEntry[]>('audit.list', { action: 'pairing.reject', serial: SERIAL });
    expect(entry).toMatchObject({ user: 'bob', target: SERIAL, detail: { serial: SERIAL, requests: 3, tfps: claimants.map((c) => c.tfp), result: 'ok' } });
  });

  it('says so when nothing waits, and refuses a serial nobody created', async () => {
    const none = await human(['pairing', 'reject', '--serial', SERIAL, '--yes']);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe(`no pairing request for ${SERIAL} waits for an operator: nothing rejected\n`);
    const unknown = await cas(['pairing', 'reject', '--serial', 'NO-SUCH-1', '--yes']);
    expect(unknown.code).toBe(1);
    expect(unknown.json).toMatchObject({ error: 'not_found' });
  });

  it('prints each request it rejected with its key', async () => {
    const late = RawTerminal.create(SERIAL);
    const { requestId } = await late.requestPairing(server.gateUrl, server.sfp);
    const out = await human(['pairing', 'reject', '--serial', SERIAL, '--yes']);
    expect(out.stdout).toMatch(new RegExp(`^1 pairing request for ${SERIAL} rejected:\\n  ${requestId}  TFP [0-9A-F:]{95}  from 127\\.0\\.0\\.1\\n$`));
  });
});

describe('cas pairing reject --serial on a terminal', () => {
  /** The operator's terminal: what cas asks on stderr, and what is typed after the question. */
  function terminalIo() {
    const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => stdin });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let said = '';
    stderr.on('data', (chunk: Buffer) => (said += chunk.toString('utf8')));
    let out = '';
    stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    const asked = (): Promise<void> => expect.poll(() => said, { timeout: 15_000 }).toContain('Type YES to confirm: ').then(() => undefined);
    return { io: { stdin, stdout, stderr }, asked, said: () => said, out: () => out };
  }

  it('lists the requests and rejects exactly those on YES, not one that came while it asked; anything else rejects nothing', async () => {
    // A kept session (cas login): no password is read from this terminal, only the answer.
    const sessions = tempDir('cas-session');
    const carol = await addOperator(server.dataDir, 'carol');
    ok(await casCli(['--url', server.adminUrl, '--user', 'carol', '--fingerprint', server.sfp, '--json', '--totp', (await nextTotp(carol))!, 'login'], `${carol.password}\n`, { CAS_SESSION_DIR: sessions }));
    const argv = ['--url', server.adminUrl, '--user', 'carol', '--fingerprint', server.sfp, 'pairing', 'reject', '--serial', SERIAL];
    const keys = [RawTerminal.create(SERIAL), RawTerminal.create(SERIAL)];
    const shown = [];
    for (const key of keys) shown.push(await key.requestPairing(server.gateUrl, server.sfp));
    const before = (await pending(SERIAL)).map((r) => r.requestId);

    const no = terminalIo();
    const refused = runCli(argv, { io: no.io, env: { CAS_SESSION_DIR: sessions } });
    await no.asked();
    no.io.stdin.end('yes\n');
    expect(await refused).toBe(2);
    // Only YES confirms, and the answer says so: "yes" looked like a confirmation to whoever typed it.
    expect(no.said()).toContain('cancelled (only YES, in capitals, confirms); nothing was changed\n(cas pairing reject --help for usage)');
    expect((await pending(SERIAL)).map((r) => r.requestId)).toEqual(before);

    const yes = terminalIo();
    const confirmed = runCli(argv, { io: yes.io, env: { CAS_SESSION_DIR: sessions } });
    await yes.asked();
    for (const key of keys) expect(yes.said()).toContain(`TFP ${formatFingerprint(key.tfp)}`);
    // Made while the operator reads the question: not among those shown, so not rejected.
    const meanwhile = await RawTerminal.create(SERIAL).requestPairing(server.gateUrl, server.sfp);
    yes.io.stdin.end('YES\n');
    expect(await confirmed).toBe(0);
    expect(yes.out()).toContain(`pairing requests for ${SERIAL} rejected:`);
    const left = (await pending(SERIAL)).map((r) => r.requestId);
    expect(left).toContain(meanwhile.requestId);
    for (const { requestId } of shown) expect(left).not.toContain(requestId);
  });

  it('does not ask a viewer to confirm what it may not do: the server refuses it at once, and nothing is rejected', async () => {
    const sessions = tempDir('cas-session');
    const sam = await addOperator(server.dataDir, 'sam', { role: 'viewer' });
    ok(await casCli(['--url', server.adminUrl, '--user', 'sam', '--fingerprint', server.sfp, '--json', '--totp', (await nextTotp(sam))!, 'login'], `${sam.password}\n`, { CAS_SESSION_DIR: sessions }));
    await RawTerminal.create(SERIAL).requestPairing(server.gateUrl, server.sfp);
    const before = (await pending(SERIAL)).map((r) => r.requestId);
    const viewer = terminalIo();
    const code = await runCli(['--url', server.adminUrl, '--user', 'sam', '--fingerprint', server.sfp, 'pairing', 'reject', '--serial', SERIAL], { io: viewer.io, env: { CAS_SESSION_DIR: sessions } });
    expect(code).toBe(1);
    expect(viewer.said()).not.toContain('Type YES to confirm');
    expect(viewer.said()).toContain('error: forbidden: sam is a viewer');
    expect((await pending(SERIAL)).map((r) => r.requestId)).toEqual(before);
  });
});

describe('pairing.reject {serial, requestIds}', () => {
  it('rejects only the requests named of those that wait (what a confirmation showed), and refuses a mix of forms', async () => {
    const first = RawTerminal.create(SERIAL);
    const second = RawTerminal.create(SERIAL);
    const a = await first.requestPairing(server.gateUrl, server.sfp);
    const b = await second.requestPairing(server.gateUrl, server.sfp);
    const done = await alice.request<{ rejected: PairingView[] }>('pairing.reject', { serial: SERIAL, requestIds: [a.requestId, bystanderRequest] });
    expect(done.rejected.map((r) => r.requestId)).toEqual([a.requestId]);
    const left = (await pending(SERIAL)).map((r) => r.requestId);
    expect(left).toContain(b.requestId);
    expect(left).not.toContain(a.requestId);
    expect((await pending(OTHER)).map((r) => r.requestId)).toEqual([bystanderRequest]);
    for (const args of [{}, { requestId: b.requestId, serial: SERIAL }, { requestId: b.requestId, requestIds: [b.requestId] }]) {
      await expect(alice.request('pairing.reject', args)).rejects.toMatchObject({ code: 'invalid_field' });
    }
  });
});

describe('pairing.reject {serial} while keys keep asking', () => {
  it('names in its entry every key it rejected, one that asked while its intent was written included', async () => {
    const serial = 'REJ-0003';
    await alice.request('terminals.create', { serial });
    let asking = true;
    // Strangers at the open gate, one request after another: some land between the op's intent and its run.
    const ask = async (): Promise<void> => {
      while (asking) await RawTerminal.create(serial).requestPairing(server.gateUrl, server.sfp).catch(() => undefined);
    };
    const askers = [ask(), ask()];
    let raced = 0;
    try {
      for (let round = 0; round < 60 && raced < 2; round++) {
        await new Promise((resolve) => setTimeout(resolve, 40));
        const done = await alice.request<{ rejected: PairingView[] }>('pairing.reject', { serial });
        const [entry] = await alice.request<AuditEntry[]>('audit.list', { action: 'pairing.reject', serial, limit: 1 });
        const detail = entry!.detail as { requests: number; rejected?: number; tfps: string[] };
        // `requests`: how many waited when it was asked; more were rejected when one asked in between.
        if (done.rejected.length > detail.requests) raced++;
        expect(detail.tfps.slice().sort()).toEqual(done.rejected.map((r) => r.tfp).sort());
        expect(detail.rejected).toBe(done.rejected.length);
      }
    } finally {
      asking = false;
      await Promise.all(askers);
    }
    // The window was hit: without it this test would not say anything.
    expect(raced).toBeGreaterThan(0);
  }, 60_000);
});

describe('pairing.reject {serial} while a key it listed asks anew', () => {
  it('leaves the request its key replaced meanwhile, rejects the others, and its entry says so', async () => {
    // Between the op's listing and that request's turn, its key commits again (a new nonce): the listed request is gone.
    // Before, the op stopped there with `not_found`, audited as refused, with the requests before it already rejected.
    await alice.request('subscribe', { topics: ['pairing'] });
    let raced = 0;
    for (let round = 0; round < 6 && raced < 2; round++) {
      const serial = `REJ-RACE-${round}`;
      await alice.request('terminals.create', { serial });
      const others = Array.from({ length: MAX_PENDING_PER_SERIAL - 1 }, () => RawTerminal.create(serial));
      for (const other of others) await other.requestPairing(server.gateUrl, server.sfp);
      // Newest, so the op comes to it last.
      const replacing = RawTerminal.create(serial);
      const listed = await replacing.requestPairing(server.gateUrl, server.sfp);
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        // The connection is made now: on the first rejection, the new commit goes at once.
        expect((await replacing.gate(server.gateUrl, { requestId: listed.requestId }, { agent })).status).toBe(202);
        const firstRejected = nextPush(alice, (p) => p.event === 'pairing.rejected' && (p.data as { request: PairingView }).request.serial === serial);
        const op = alice.request<{ rejected: PairingView[] }>('pairing.reject', { serial }).then((value) => ({ value }), (error: unknown) => ({ error }));
        await firstRejected;
        const nonce = crypto.randomBytes(32);
        const recommit = await replacing.gate(server.gateUrl, { commitment: commitmentOf(nonce) }, { agent });
        const outcome = await op;
        expect(outcome, 'error' in outcome ? String(outcome.error) : '').toHaveProperty('value');
        const done = (outcome as { value: { rejected: PairingView[] } }).value;
        const [entry] = await alice.request<AuditEntry[]>('audit.list', { action: 'pairing.reject', serial, limit: 1 });
        expect(entry!.detail).toMatchObject({ result: 'ok', rejected: done.rejected.length });
        // 403 pairing_rejected: the op came to the listed request before its key asked again, and rejected it.
        if (recommit.status !== 202) continue;
        raced++;
        expect(done.rejected.map((r) => r.tfp).sort()).toEqual(others.map((o) => o.tfp).sort());
        // Its new request was left as it is: revealed, it waits for an operator with its new code.
        const reveal = await replacing.gate(server.gateUrl, { requestId: recommit.json.requestId, reveal: nonce.toString('base64') }, { agent });
        expect(reveal.json).toMatchObject({ status: 'pending', stage: 'approval' });
        expect((await pending(serial)).map((r) => r.tfp)).toEqual([replacing.tfp]);
      } finally {
        agent.destroy();
      }
    }
    await alice.request('unsubscribe', { topics: ['pairing'] });
    expect(raced).toBeGreaterThan(0);
  }, 120_000);
});
