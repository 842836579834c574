/**
 * @module The read-only role against the real server: a viewer (`users add --role viewer`) lists the fleet, the pairing
 * requests and the audit log; every op of the op table that changes the server is refused with `forbidden`, leaves the
 * store as it was and is audited; `cas` says so; an operator made a viewer with `users role` loses their powers in the
 * session they had open; and an account written before roles logs in as an operator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient, type SessionInfo } from '../../src/admin/admin-client.js';
import { OPS } from '../../src/admin/ops.js';
import { Store } from '../../src/store/store.js';
import { casCli, serverCli, type CliResult } from '../helpers/cli.js';
import { addOperator, arrived, nextPush, nextTotp, pairRawTerminal, type TestOperator } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, tempDir, type ServerProcess } from '../helpers/server-process.js';
import { refusalCode } from '../helpers/refusal.js';

const started: ServerProcess[] = [];
const clients: AdminClient[] = [];
let server: ServerProcess;
let alice: AdminClient;
let viewer: TestOperator;
/** The viewer's connection: two logins a TOTP step at most (a code is accepted once), and cas logs in too. */
let vic: AdminClient;
let pendingRequestId: string;
let pendingCode: string;

afterAll(async () => {
  for (const client of clients) await client.close();
  for (const each of started) await each.stop();
});

async function start(dataDir?: string): Promise<ServerProcess> {
  const each = await startServerProcess(dataDir ? { dataDir } : {});
  started.push(each);
  return each;
}

/** Logs `op` in over a new admin connection: the client, and what the login answered. */
async function logIn(op: TestOperator, on = server): Promise<{ client: AdminClient; session: SessionInfo }> {
  const client = await AdminClient.connect(on.adminUrl, { fingerprint: on.sfp });
  clients.push(client);
  return { client, session: await client.login(op.user, op.password, await nextTotp(op)) };
}

const connect = async (op: TestOperator, on = server): Promise<AdminClient> => (await logIn(op, on)).client;

const users = (args: string[], on = server): Promise<CliResult> => serverCli(['users', ...args, '--data-dir', on.dataDir]);

/**
 * Arguments that would make each op that changes the server succeed, were it run by an operator: a refusal for anything
 * but the role would otherwise pass for one. An op added to the table without an entry here fails the test.
 */
const changingArgs = (): Record<string, Record<string, unknown>> => ({
  'terminals.create': { serial: 'VR-NEW', name: 'New' },
  'terminals.update': { serial: 'VR-EXPECTED', name: 'Renamed', contact: '+1 555 0199' },
  'terminals.unpair': { serial: 'VR-PAIRED' },
  'terminals.delete': { serial: 'VR-EXPECTED' },
  'pairing.approve': { requestId: pendingRequestId, code: pendingCode },
  'pairing.reject': { requestId: pendingRequestId },
  'deposit.set': { coin: 'BTC', address: '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2' },
  'gate.open': { minutes: 5 },
  'gate.close': {},
  'vpn.set': { host: 'vpn.example.com', port: 1195 },
  'vpn.export': {},
  'vpn.regenerate': { serial: 'VR-VPN' },
});

/** What the store holds that an op could change, as an operator's reads show it. */
async function snapshot(): Promise<Record<string, unknown>> {
  return {
    terminals: await alice.request('terminals.list', { limit: 1000 }),
    pairing: await alice.request('pairing.list', { limit: 1000 }),
    deposits: await alice.request('deposit.list', {}),
    gate: await alice.request('gate.status', {}),
    vpn: await alice.request('vpn.get', {}),
    // The CRL's PEM is signed anew at each ask: what it revokes is what can change.
    revoked: (await alice.request<{ revoked: unknown[] }>('vpn.crl', {})).revoked,
    unknown: await alice.request('unknown.list', {}),
  };
}

beforeAll(async () => {
  server = await start();
  alice = await connect(await addOperator(server.dataDir, 'alice'));
  viewer = await addOperator(server.dataDir, 'vic', { role: 'viewer' });
  await alice.request('gate.open', { minutes: 30 });
  await pairRawTerminal(alice, server, RawTerminal.create('VR-PAIRED'));
  await alice.request('terminals.create', { serial: 'VR-VPN', vpn: true });
  const vpnTerminal = RawTerminal.create('VR-VPN');
  const vpnRequest = await vpnTerminal.requestPairing(server.gateUrl, server.sfp);
  await alice.request('pairing.approve', vpnRequest);
  await alice.request('terminals.create', { serial: 'VR-EXPECTED', name: 'Lobby', contact: '+1 555 0100' });
  await alice.request('terminals.create', { serial: 'VR-WAIT' });
  ({ requestId: pendingRequestId, code: pendingCode } = await RawTerminal.create('VR-WAIT').requestPairing(server.gateUrl, server.sfp));
  await alice.request('deposit.set', { coin: 'BTC', address: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq' });
}, 120_000);

describe('a viewer', () => {
  it('is created with users add --role viewer, and users list shows the role', async () => {
    const added = await serverCli(['users', 'add', 'val', '--password-stdin', '--role', 'viewer', '--no-2fa', '--data-dir', server.dataDir], 'a long enough passphrase\n');
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/^viewer val created\nval is a viewer: can look at the fleet, pairing requests and audit log, cannot change anything\nenrolment code for 2FA, if they want it \(shown once; until \S+, 5 tries\): \d{4}-\d{4}-\d{4}\n$/);
    const listed = (await users(['list', '--json'])).json as { user: string; role: string }[];
    expect(listed.map(({ user, role }) => ({ user, role }))).toEqual([{ user: 'alice', role: 'operator' }, { user: 'val', role: 'viewer' }, { user: 'vic', role: 'viewer' }]);
    expect((await users(['list'])).stdout).toMatch(/^vic\t2fa=yes\t\S+\tdisabled=no\trole=viewer$/m);
  });

  it('lists the terminals, the pairing requests and the audit log, and is told its role at login and resume', async () => {
    const { client, session } = await logIn(viewer);
    vic = client;
    expect(session).toMatchObject({ user: 'vic', has2fa: true, role: 'viewer' });
    const listed = await vic.request<{ terminals: { serial: string }[] }>('terminals.list', {});
    expect(listed.terminals.map((t) => t.serial)).toEqual(['VR-EXPECTED', 'VR-PAIRED', 'VR-VPN', 'VR-WAIT']);
    expect(await vic.request('terminals.get', { serial: 'VR-PAIRED' })).toMatchObject({ state: 'paired' });
    const waiting = await vic.request<{ requests: { requestId: string; code: string }[] }>('pairing.list', { state: 'pending' });
    expect(waiting.requests).toEqual([expect.objectContaining({ requestId: pendingRequestId, code: pendingCode })]);
    expect(await vic.request('pairing.get', { requestId: pendingRequestId })).toMatchObject({ serial: 'VR-WAIT' });
    const audit = await vic.request<{ action: string }[]>('audit.list', { limit: 100 });
    expect(audit.map((e) => e.action)).toContain('pairing.approve');
    for (const op of ['gate.status', 'server.status', 'unknown.list', 'deposit.list', 'vpn.get', 'vpn.crl']) {
      expect(await refusalCode(vic.request(op, {})), op).toBe('ok');
    }
    expect(await vic.request('subscribe', { topics: ['pairing', 'terminals'] })).toEqual({ topics: ['pairing', 'terminals'] });

    const again = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
    clients.push(again);
    expect(await again.resume(session.token)).toMatchObject({ user: 'vic', role: 'viewer' });
  }, 60_000);

  it('is refused every op that changes the server with forbidden, and the store stays as it was; each refusal is audited', async () => {
    const changing = Object.entries(OPS).filter(([, spec]) => spec.changes === 'server').map(([name]) => name);
    const args = changingArgs();
    // Every op of the table that changes the server is tried, not a chosen few.
    expect(changing.filter((op) => !(op in args))).toEqual([]);
    const before = await snapshot();
    for (const op of changing) {
      let error: unknown = null;
      await vic.request(op, args[op]).catch((caught: unknown) => (error = caught));
      expect(error, op).toMatchObject({ code: 'forbidden', message: expect.stringContaining(`vic is a viewer`) });
      expect((error as Error).message, op).toContain(op);
    }
    expect(await snapshot()).toEqual(before);

    const entries = await alice.request<{ user: string; action: string; target: string | null; detail: Record<string, unknown> }[]>('audit.list', { user: 'vic', limit: 100 });
    // Its login, then each refusal: nothing it tried took effect.
    expect(entries.map((e) => [e.action, e.detail.result]).reverse()).toEqual([['login', 'ok'], ...changing.map((op) => [op, 'forbidden'])]);
    expect(entries.find((e) => e.action === 'terminals.unpair')).toMatchObject({ target: 'VR-PAIRED', detail: { remoteAddress: '127.0.0.1' } });
    const line = await server.waitForLog((l) => l.msg === 'operator action' && l.user === 'vic' && l.action === 'pairing.approve');
    expect(line).toMatchObject({ result: 'forbidden', level: 40 });
  }, 60_000);

  it('gets a clear error from cas for a refused op, and cas login says it is a viewer', async () => {
    const env = { CAS_SESSION_DIR: tempDir('cas-viewer') };
    const cas = (args: string[], stdin?: string) => casCli(['--url', server.adminUrl, '--user', 'vic', '--fingerprint', server.sfp, ...args], stdin, env);
    const login = await cas(['--totp', (await nextTotp(viewer))!, 'login'], `${viewer.password}\n`);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toMatch(/^logged in as vic \(a viewer: you can look, not change anything\);/);
    expect((await cas(['--json', 'terminals', 'list'])).json).toMatchObject({ total: 4, shown: 4 });
    const refused = await cas(['pairing', 'approve', pendingRequestId, '--code', pendingCode]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: forbidden: vic is a viewer: a read-only account can look but not change anything, and pairing\.approve changes the server\. .*pairing-server users role vic operator/);
    const json = await cas(['--json', 'gate', 'open', '--minutes', '5']);
    expect(json.json).toMatchObject({ error: 'forbidden' });
    expect(await alice.request('pairing.get', { requestId: pendingRequestId })).toMatchObject({ state: 'pending' });
    expect((await casCli(['--help'])).stdout).toContain('A viewer account (pairing-server users add NAME --role viewer)');
    expect((await users(['role', '--help'])).stdout).toMatch(/^Usage: pairing-server users role NAME operator\|viewer/);
  }, 60_000);
});

describe('users role', () => {
  it('takes an operator\'s powers at once, in the session they have open; making them an operator again gives them back', async () => {
    // Without 2FA: logged in three times within a TOTP step, and creating terminals needs none.
    const bob = await addOperator(server.dataDir, 'bob', { with2fa: false });
    const { client: held, session } = await logIn(bob);
    expect(session).toMatchObject({ role: 'operator' });
    await held.request('terminals.create', { serial: 'VR-BOB-1' });
    // Listened for before the command runs. Told by the audit watch (a poll a second), not the session sweep (15 s): the
    // watch ends the sessions before it tells alice of the change, so once she has heard, bob's connection was told
    // ahead of the answer to his next op.
    const ended = arrived(nextPush(held, (p) => p.event === 'session.ended', 60_000));
    const told = nextPush(alice, (p) => p.event === 'operator.changed' && p.data.user === 'bob' && p.data.action === 'users.role');

    const demoted = await users(['role', 'bob', 'viewer', '--json']);
    expect(demoted.code, demoted.stderr).toBe(0);
    expect(demoted.json).toEqual({ user: 'bob', role: 'viewer', previous: 'operator', sessionsEnded: 1 });
    expect((await told).data).toMatchObject({ user: 'bob', by: expect.stringMatching(/^cli:/), result: 'ok' });
    expect(await refusalCode(held.request('terminals.create', { serial: 'VR-BOB-2' }))).toBe('session_expired');
    expect(ended()?.data).toMatchObject({ error: 'session_expired' });

    const { client: again, session: demotedSession } = await logIn(bob);
    expect(demotedSession).toMatchObject({ role: 'viewer' });
    expect(await refusalCode(again.request('terminals.create', { serial: 'VR-BOB-2' }))).toBe('forbidden');
    expect(await refusalCode(again.request('terminals.list', {}))).toBe('ok');
    expect((await users(['role', 'bob', 'viewer'])).stdout).toBe('bob is a viewer already: nothing changed\n');
    expect(await refusalCode(again.request('gate.status', {}))).toBe('ok');

    expect((await users(['role', 'bob', 'operator'])).stdout).toBe('bob is now an operator; 1 session ended\n');
    const { client: promoted, session: promotedSession } = await logIn(bob);
    expect(promotedSession).toMatchObject({ role: 'operator' });
    expect(await refusalCode(promoted.request('terminals.create', { serial: 'VR-BOB-2' }))).toBe('ok');

    const entries = await alice.request<{ action: string; target: string; detail: Record<string, unknown> }[]>('audit.list', { action: 'users.role', limit: 10 });
    expect(entries.map(({ target, detail }) => ({ target, detail })).reverse()).toEqual([
      { target: 'bob', detail: { role: 'viewer', force: false, previous: 'operator', sessionsEnded: 1, result: 'ok' } },
      { target: 'bob', detail: { role: 'viewer', force: false, previous: 'viewer', sessionsEnded: 0, result: 'ok' } },
      { target: 'bob', detail: { role: 'operator', force: false, previous: 'viewer', sessionsEnded: 1, result: 'ok' } },
    ]);
  }, 60_000);

  it('refuses to make the last operator with 2FA a viewer without --force, audited, and takes no role but the two', async () => {
    const lone = await start();
    const solo = await addOperator(lone.dataDir, 'solo');
    const refused = await users(['role', 'solo', 'viewer'], lone);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: invalid_state: solo is the last enabled operator with 2FA: .*--force/);
    expect((await users(['role', 'nobody', 'viewer'], lone)).stderr).toMatch(/^error: not_found: /);
    const typo = await users(['role', 'solo', 'admin'], lone);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/^error: bad_request: the role is operator or viewer, not "admin"/);
    const listed = (await users(['list', '--json'], lone)).json as { role: string }[];
    expect(listed).toEqual([expect.objectContaining({ user: 'solo', role: 'operator' })]);
    const entries = await (await connect(solo, lone)).request<{ action: string; target: string; detail: Record<string, unknown> }[]>('audit.list', { action: 'users.role' });
    expect(entries.map(({ target, detail }) => ({ target, result: detail.result })).reverse()).toEqual([
      { target: 'solo', result: 'invalid_state' }, { target: 'nobody', result: 'not_found' },
    ]);
  }, 60_000);
});

describe('an account written before roles', () => {
  it('logs in as an operator and may change the server', async () => {
    const old = await start();
    const olga = await addOperator(old.dataDir, 'olga');
    await old.stop();
    // The record as a version without roles wrote it: no role field.
    const store = Store.open(old.dataDir);
    const { role, ...record } = store.operators.get('olga')!;
    expect(role).toBe('operator');
    await store.durable(store.operators.put('olga', record));
    await store.close();

    const again = await start(old.dataDir);
    expect(((await users(['list', '--json'], again)).json as { role: string }[])).toEqual([expect.objectContaining({ user: 'olga', role: 'operator' })]);
    const { client, session } = await logIn(olga, again);
    expect(session).toMatchObject({ role: 'operator' });
    expect(await client.request('terminals.create', { serial: 'OLD-1' })).toMatchObject({ serial: 'OLD-1' });
  }, 90_000);
});
