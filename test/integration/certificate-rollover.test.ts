/**
 * @module Server certificate rollover without visiting the fleet (docs/ADMIN-OPS.md, "Replacing the server certificate"):
 * `pairing-server identity prepare`, the announcement on master's answers, `identity promote`, and real terminal CLIs
 * that follow the switch, or do not, against the real server process over real TLS.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/admin/admin-client.js';
import type { ServerStatus } from '../../src/protocol/types.js';
import { createSelfSignedCertificate, generateKeyPair } from '../../src/crypto/certificates.js';
import { formatFingerprint } from '../../src/crypto/fingerprint.js';
import { ok, runCli, serverCli, terminalCli } from '../helpers/cli.js';
import { addOperator, connectOperator, type TestOperator } from '../helpers/operator.js';
import { freePort } from '../helpers/ports.js';
import { rawRequest } from '../helpers/raw-terminal.js';
import { SERVER_CLI, TERMINAL_CLI, startServerProcess, tempDir, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;
let alice: TestOperator;
/** Alice's session, resumed by each step: every login takes a TOTP step, and sessions outlive restarts. */
let token: string;
/** Hears the announcement, then follows the switch. */
const follower = tempDir('rollover-follower');
/** Paired, but does not call while the next certificate is announced. */
const absent = tempDir('rollover-absent');
/** Hears the announcement, and after the promote moves to the server's new gate address without --expect-sfp. */
const mover = tempDir('rollover-mover');
/** Heard it, then unpaired and deleted by an operator: no longer one of the terminals that follow the switch. */
const retired = tempDir('rollover-retired');

const identity = (args: string[]) => serverCli(['identity', ...args, '--json', '--data-dir', server.dataDir]);

async function withOperator<T>(fn: (client: AdminClient) => Promise<T>): Promise<T> {
  const client = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
  await client.resume(token);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

async function pairCli(dir: string, serial: string): Promise<void> {
  ok(await terminalCli(dir, ['init', '--serial', serial, '--key', 'ec']));
  const pending = ok(await terminalCli(dir, ['pair', '--gate', server.gateUrl]));
  await withOperator((client) => client.request('pairing.approve', { requestId: pending.requestId, code: pending.code }));
  expect(ok(await terminalCli(dir, ['pair'])).status).toBe('trusted');
}

/** The `operator action` lines of this start for what was done while the server was stopped. */
const offlineActions = () => server.logs.filter((l) => l.msg === 'operator action' && l.whileStopped === true).map((l) => [l.action, l.result]);

/** `server.status` until `done` holds (last-seen times are written behind the answers). */
async function statusUntil(done: (status: ServerStatus) => boolean): Promise<ServerStatus> {
  return withOperator(async (client) => {
    // As long as the configured poll (10 s), not 50 tries: each is a round trip, and on a loaded machine 50 of them
    // and their pauses could end before a write-behind that came late.
    for (const deadline = performance.now() + 10_000; ;) {
      const status = await client.request<ServerStatus>('server.status');
      if (done(status) || performance.now() > deadline) return status;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
}

beforeAll(async () => {
  server = await startServerProcess();
  alice = await addOperator(server.dataDir, 'alice');
  const login = await connectOperator(server, alice);
  token = login.token!;
  await login.close();
  await withOperator(async (client) => {
    await client.request('gate.open', { minutes: 30 });
    await client.request('terminals.create', { serial: 'ATM-F1' });
    await client.request('terminals.create', { serial: 'ATM-A1' });
    await client.request('terminals.create', { serial: 'ATM-M1' });
    await client.request('terminals.create', { serial: 'ATM-R1' });
    // Created, never paired: not among the terminals that have a pairing to keep.
    await client.request('terminals.create', { serial: 'ATM-N1' });
  });
  await pairCli(follower, 'ATM-F1');
  await pairCli(absent, 'ATM-A1');
  await pairCli(mover, 'ATM-M1');
  await pairCli(retired, 'ATM-R1');
});

afterAll(async () => {
  await server?.stop();
});

describe('identity prepare and promote', () => {
  it('refuses both while the server runs, and promote with nothing prepared', async () => {
    const running = await identity(['prepare']);
    expect(running.code).toBe(1);
    expect(running.stderr).toMatch(/^error: conflict: identity prepare needs the server stopped: a pairing-server \(pid \d+\) runs on /);
    expect(running.stderr).toContain('; nothing was changed. Stop it, run this again, and start it.');
    expect(fs.existsSync(path.join(server.dataDir, 'tls', 'next.crt'))).toBe(false);

    await server.stop();
    const nothing = await identity(['promote']);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toMatch(/^error: not_found: no next identity is prepared/);
    const unknown = await serverCli(['identity', 'rotate', '--data-dir', server.dataDir]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('identity prepare | promote | status');
  });

  it('prepares once; a second prepare is refused unless --force, which replaces it', async () => {
    const first = ok(await identity(['prepare']));
    expect(first.sfp).toMatch(/^[0-9a-f]{64}$/);
    const again = await identity(['prepare']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(new RegExp(`^error: already_exists: a next identity is prepared already \\(SFP ${first.sfp}\\)`));
    const replaced = ok(await identity(['prepare', '--force']));
    expect(replaced.replaced).toBe(first.sfp);
    expect(replaced.sfp).not.toBe(first.sfp);
    for (const file of ['next.key', 'next.crt']) expect(fs.statSync(path.join(server.dataDir, 'tls', file)).mode & 0o777).toBe(0o600);
    expect(ok(await identity(['status']))).toEqual({ current: server.sfp, next: replaced.sfp, announcedSince: null, previous: null });
  });
});

describe('a rollover', () => {
  let oldSfp: string;
  let nextSfp: string;

  it('announces the next SFP on master\'s answers; a terminal that calls remembers it, and the operators see it counted', async () => {
    oldSfp = server.sfp;
    nextSfp = ok(await identity(['status'])).next;
    const { dataDir, ports } = server;
    server = await startServerProcess({ dataDir, ports });
    expect(server.logs.find((l) => l.msg === 'listening')).toMatchObject({ sfp: oldSfp, nextSfp });
    // Logged at the first start after them, as every offline change of the server is, refusals included.
    expect(offlineActions()).toEqual([
      ['server.identity_promote', 'not_found'], ['server.identity_prepare', 'ok'], ['server.identity_prepare', 'already_exists'], ['server.identity_prepare', 'ok'],
    ]);

    // Both terminals were last seen before this start, when nothing was announced yet.
    expect((await statusUntil(() => true)).nextIdentity).toMatchObject({ sfp: nextSfp, terminalsSeenSince: 0 });
    ok(await terminalCli(follower, ['ping']));
    expect(ok(await terminalCli(follower, ['status']))).toMatchObject({ pinnedSfp: oldSfp, announcedSfp: nextSfp });
    expect(ok(await terminalCli(absent, ['status'])).announcedSfp).toBeNull();

    // Every answer gate and master give carries it (PROTOCOL.md), an unknown route's 404 and an unsigned call's 401 too.
    for (const url of [`${server.masterUrl}/api/v1/nope`, `${server.gateUrl}/nope`, `${server.masterUrl}/api/v1/ping`]) {
      const reply = await rawRequest(url, 'POST', { 'content-type': 'application/json' }, Buffer.from('{}'));
      expect([reply.status, reply.headers['pairing-next-sfp']], url).toEqual([url.endsWith('/ping') ? 401 : 404, nextSfp]);
    }

    ok(await terminalCli(mover, ['ping']));
    expect(ok(await terminalCli(mover, ['status'])).announcedSfp).toBe(nextSfp);
    // Seen since, then unpaired: its last-seen time stays (the terminals list shows it), but it follows no switch.
    ok(await terminalCli(retired, ['ping']));
    expect((await statusUntil((s) => s.nextIdentity?.terminalsSeenSince === 3)).nextIdentity).toMatchObject({ terminalsSeenSince: 3, pairedTerminals: 4 });
    await withOperator((client) => client.request('terminals.unpair', { serial: 'ATM-R1' }));
    const unpaired = await statusUntil((s) => s.nextIdentity?.pairedTerminals === 3);
    expect([unpaired.terminals, unpaired.nextIdentity]).toMatchObject([5, { terminalsSeenSince: 2, pairedTerminals: 3 }]);
    await withOperator((client) => client.request('terminals.delete', { serial: 'ATM-R1' }));

    const status = await statusUntil((s) => s.terminals === 4);
    expect(status.nextIdentity).toMatchObject({ sfp: nextSfp, terminalsSeenSince: 2, pairedTerminals: 3 });
    expect(ok(await identity(['status'])).announcedSince).toBe(status.nextIdentity!.announcedSince);
    // Read by a person: each SFP also with colons, as a browser shows it, and the time as cas writes it.
    const text = (await serverCli(['identity', 'status', '--data-dir', server.dataDir])).stdout;
    expect(text).toContain(`next     ${nextSfp}\n         ${nextSfp.match(/../g)!.join(':').toUpperCase()}\n         announced since `);
    expect(text).toMatch(/announced since \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\n/);
  });

  it('after promote and a restart the terminal that heard it calls on and pins the new SFP; the one that did not is refused', async () => {
    await server.stop();
    expect(ok(await identity(['promote']))).toEqual({ sfp: nextSfp, previousSfp: oldSfp });
    expect(ok(await identity(['status']))).toEqual({ current: nextSfp, next: null, announcedSince: null, previous: oldSfp });
    // Written by the commands with the server stopped, their entries go on the chain the server wrote.
    const offline = ok(await serverCli(['audit', 'verify', '--json', '--data-dir', server.dataDir]));
    expect(offline.ok).toBe(true);
    const { dataDir, ports } = server;
    server = await startServerProcess({ dataDir, ports });
    expect(server.sfp).toBe(nextSfp);
    expect(offlineActions()).toEqual([['server.identity_promote', 'ok']]);

    const ping = await terminalCli(follower, ['ping']);
    expect(ok(ping).serverTime).toBeTruthy();
    expect(ping.stderr).toContain('now pinned to SFP');
    expect(ok(await terminalCli(follower, ['status']))).toMatchObject({ pinnedSfp: nextSfp, announcedSfp: null, paired: true });

    const refused = await terminalCli(absent, ['ping']);
    expect(refused.code).toBe(1);
    expect(refused.json.error).toBe('server_pin_mismatch');
    expect(ok(await terminalCli(absent, ['status'])).pinnedSfp).toBe(oldSfp);
    // The old procedure still brings it back: the new SFP checked with the operator, its pairing kept.
    expect(ok(await terminalCli(absent, ['pair', '--expect-sfp', nextSfp])).status).toBe('trusted');
    expect(ok(await terminalCli(absent, ['ping'])).serverTime).toBeTruthy();
    // And the server's own entries since (the offline ones logged, the approvals of this start) go on from them.
    const online = ok(await serverCli(['audit', 'verify', '--json', '--data-dir', server.dataDir]));
    expect(online.ok).toBe(true);
    expect(online.entries).toBeGreaterThanOrEqual(offline.entries);
  });

  it('a terminal that heard it and moves to the promoted server\'s new gate address takes the announced SFP there, with no --expect-sfp', async () => {
    // The server moves (a new gate port: a new address as far as the terminal can tell) after the promote; the mover
    // has not called since, so it still pins the old SFP and holds the announced one.
    expect(ok(await terminalCli(mover, ['status']))).toMatchObject({ pinnedSfp: oldSfp, announcedSfp: nextSfp });
    const { dataDir, ports } = server;
    await server.stop();
    server = await startServerProcess({ dataDir, ports: { ...ports, gate: await freePort() } });
    expect(server.sfp).toBe(nextSfp);

    // Told to move to another server (--expect-sfp of its own), it takes nothing its old server announced: the gate
    // presenting that next SFP is refused, and the terminal keeps what it had.
    const elsewhere = await terminalCli(mover, ['pair', '--gate', server.gateUrl, '--expect-sfp', 'ab'.repeat(32)]);
    expect(elsewhere.json.error).toBe('server_pin_mismatch');
    expect(ok(await terminalCli(mover, ['status']))).toMatchObject({ gateUrl: `https://127.0.0.1:${ports.gate}`, pinnedSfp: oldSfp, announcedSfp: nextSfp });

    // Noted with set-server (as a technician does): the pair that follows makes the switch.
    const noted = await runCli(TERMINAL_CLI, ['--state', mover, 'set-server', server.gateUrl]);
    expect(noted.code).toBe(0);
    expect(noted.stdout.replace(/\s+/g, ' ')).toContain(`That gate must present the pinned SFP ${formatFingerprint(oldSfp)}, or the next one its server announced, ${formatFingerprint(nextSfp)};`);
    const moved = await terminalCli(mover, ['pair']);
    expect(ok(moved).status).toBe('trusted');
    expect(moved.stderr).toContain('now pinned to SFP');
    expect(ok(await terminalCli(mover, ['status']))).toMatchObject({ gateUrl: server.gateUrl, pinnedSfp: nextSfp, announcedSfp: null, paired: true });
    expect(ok(await terminalCli(mover, ['ping'])).serverTime).toBeTruthy();
  });

  it('never takes an announcement from a server that does not present the pin', async () => {
    // Another server on the same ports, with a next identity of its own: the terminal refuses it before reading a byte.
    const before = ok(await terminalCli(follower, ['status']));
    expect(before.announcedSfp).toBeNull();
    const { dataDir, ports } = server;
    await server.stop();
    const impostorDir = tempDir('rollover-impostor');
    const impostor = await startServerProcess({ dataDir: impostorDir, ports });
    await impostor.stop();
    const announced = ok(await serverCli(['identity', 'prepare', '--json', '--data-dir', impostorDir])).sfp;
    const restarted = await startServerProcess({ dataDir: impostorDir, ports });
    try {
      expect(restarted.logs.find((l) => l.msg === 'listening')?.nextSfp).toBe(announced);
      const call = await terminalCli(follower, ['ping']);
      expect(ok(await terminalCli(follower, ['status']))).toMatchObject({ pinnedSfp: before.pinnedSfp, announcedSfp: null });
      expect(call.json.error).toBe('server_pin_mismatch');
    } finally {
      await restarted.stop();
    }
    server = await startServerProcess({ dataDir, ports });
    expect(ok(await terminalCli(follower, ['ping'])).serverTime).toBeTruthy();
  });
});

describe('an operator\'s mistakes at 3 a.m.', () => {
  const tls = (file: string) => path.join(server.dataDir, 'tls', file);
  const serveOnce = () => serverCli(['serve', '--data-dir', server.dataDir, '--host', '127.0.0.1', '--gate-port', String(server.ports.gate),
    '--master-port', String(server.ports.master), '--admin-port', String(server.ports.admin)]);

  it('a next pair damaged by hand is named, and neither served nor promoted', async () => {
    await server.stop();
    const current = server.sfp;
    const prepared = ok(await identity(['prepare']));
    const key = fs.readFileSync(tls('next.key'));
    const cert = fs.readFileSync(tls('next.crt'));
    const notWhole = (why: string) => new RegExp(`^error: invalid_state: \\S+next\\.crt and \\S+next\\.key are not a whole pair \\(${why}\\): the next identity is damaged`);

    // Another key copied over next.key: promote would install a pair the server cannot start with.
    fs.copyFileSync(tls('server.key'), tls('next.key'));
    for (const result of [await identity(['status']), await identity(['promote']), await serveOnce()]) {
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(notWhole('the key does not belong to the certificate'));
    }
    expect((await serverCli(['fingerprint', '--data-dir', server.dataDir])).stdout.trim()).toBe(current);
    expect(fs.existsSync(tls('next.crt'))).toBe(true);

    // A certificate cut short.
    fs.writeFileSync(tls('next.key'), key);
    fs.writeFileSync(tls('next.crt'), cert.subarray(0, 100));
    const cut = await identity(['status']);
    expect(cut.code).toBe(1);
    expect(cut.stderr).toMatch(notWhole('.+'));
    fs.writeFileSync(tls('next.crt'), cert);
    expect(ok(await identity(['status'])).next).toBe(prepared.sfp);
  });

  it('promote names the new SFP for the terminals left and the operators\' pin; a second promote says the first is done', async () => {
    const previous = server.sfp;
    const next = ok(await identity(['status'])).next as string;
    const promoted = await serverCli(['identity', 'promote', '--data-dir', server.dataDir]);
    expect(promoted.code).toBe(0);
    expect(promoted.stdout).toContain(`until told: terminal pair --expect-sfp ${next} (docs/ADMIN-OPS.md).`);
    expect(promoted.stdout).toContain(`Operators move their pin too: CAS_FINGERPRINT=${next} `);

    const again = await identity(['promote']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no next identity is prepared: \`pairing-server identity prepare\` makes one, and the server announces it to terminals from its next start. The last promote is done: the current SFP is ${next} (the previous one, ${previous}, is kept as tls/previous.*)`);

    const { dataDir, ports } = server;
    server = await startServerProcess({ dataDir, ports });
    expect(server.sfp).toBe(next);
  });

  it('prepare refuses the licence pair the environment gives the server, the one it serves, and takes another one', async () => {
    await server.stop();
    const licence = (name: string) => {
      const dir = tempDir(name);
      const { privateKeyPem } = generateKeyPair('ec');
      fs.writeFileSync(path.join(dir, 'licence.key'), privateKeyPem, { mode: 0o600 });
      fs.writeFileSync(path.join(dir, 'licence.crt'), createSelfSignedCertificate({ privateKeyPem, commonName: 'pairing.example', days: 30, altNames: ['127.0.0.1'] }).certPem);
      return { key: path.join(dir, 'licence.key'), cert: path.join(dir, 'licence.crt') };
    };
    const served = licence('licence-served');
    const env = { PAIRING_SERVER_KEY: served.key, PAIRING_SERVER_CERT: served.cert };
    const copied = await runCli(SERVER_CLI, ['identity', 'prepare', '--data-dir', server.dataDir], undefined, env);
    expect(copied.code).toBe(1);
    expect(copied.stderr).toContain(`error: conflict: ${served.cert} is the licence pair PAIRING_SERVER_KEY/PAIRING_SERVER_CERT give the server, the one it serves now`);
    expect(ok(await identity(['status'])).next).toBeNull();

    // A new licence pair given with the flags, in the same environment: that is the next one.
    const renewed = licence('licence-renewed');
    const prepared = await runCli(SERVER_CLI, ['identity', 'prepare', '--json', '--data-dir', server.dataDir, '--server-key', renewed.key, '--server-cert', renewed.cert], undefined, env);
    expect(prepared.code).toBe(0);
    expect(ok(await identity(['status'])).next).toBe(prepared.json.sfp);
  });
});
