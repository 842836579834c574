/** @module Test operators: created with the real `users add` CLI, logged in over the real admin channel with real TOTP codes. */
import { AdminClient } from '../../src/admin/admin-client.js';
import { totpCode } from '../../src/crypto/totp.js';
import type { AdminPush } from '../../src/protocol/types.js';
import { casCli, serverCli, type CliResult } from './cli.js';
import type { RawTerminal } from './raw-terminal.js';
import { tempDir, type ServerProcess } from './server-process.js';

export interface TestOperator {
  user: string;
  password: string;
  totpSecret: string | null;
  /** What `users add --no-2fa` printed for the operator to enrol with; null for one created with 2FA. */
  enrolmentCode: string | null;
}

export async function addOperator(dataDir: string, user: string, opts: { with2fa?: boolean; role?: 'operator' | 'viewer' } = {}): Promise<TestOperator> {
  const password = `correct horse battery ${user}`;
  const args = ['users', 'add', user, '--password-stdin', '--json', '--data-dir', dataDir, ...(opts.with2fa === false ? ['--no-2fa'] : []), ...(opts.role ? ['--role', opts.role] : [])];
  const result = await serverCli(args, password + '\n');
  if (result.code !== 0) throw new Error(`users add failed: ${result.stderr}`);
  return { user, password, totpSecret: result.json.totpSecret, enrolmentCode: result.json.enrolmentCode };
}

/**
 * Each login consumes a TOTP step; later logins of the same account use later steps (the server accepts ±1 step). By
 * secret, not name: a test file that adds `alice` to three servers has three accounts, and keyed by name their logins
 * within one 30 s step ran out of steps (server-cli.test.ts failed so once on a fast run).
 */
const usedSteps = new Map<string, number>();

export async function nextTotp(op: TestOperator): Promise<string | undefined> {
  if (!op.totpSecret) return undefined;
  const step = Math.floor(Date.now() / 30_000);
  const next = Math.max(step, (usedSteps.get(op.totpSecret) ?? -Infinity) + 1);
  if (next > step + 1) throw new Error(`operator ${op.user} logged in too often for this test's TOTP window`);
  usedSteps.set(op.totpSecret, next);
  return totpCode(op.totpSecret, next * 30_000 + 1_000);
}

export async function connectOperator(server: Pick<ServerProcess, 'adminUrl' | 'sfp'>, op: TestOperator): Promise<AdminClient> {
  const client = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
  await client.login(op.user, op.password, await nextTotp(op));
  return client;
}

/** The whole pairing of a raw terminal: the operator creates its serial, it commits and reveals, the operator approves with its code. */
export async function pairRawTerminal(operator: AdminClient, server: Pick<ServerProcess, 'gateUrl' | 'sfp'>, terminal: RawTerminal): Promise<void> {
  await operator.request('terminals.create', { serial: terminal.serial });
  const { requestId, code } = await terminal.requestPairing(server.gateUrl, server.sfp);
  await operator.request('pairing.approve', { requestId, code });
}

/** Resolves with the first push matching `predicate`; rejects after `timeoutMs`. */
export function nextPush(client: AdminClient, predicate: (push: AdminPush) => boolean, timeoutMs = 15_000): Promise<AdminPush> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('event', listener);
      reject(new Error('no matching push arrived'));
    }, timeoutMs);
    const listener = (push: AdminPush): void => {
      if (!predicate(push)) return;
      clearTimeout(timer);
      client.off('event', listener);
      resolve(push);
    };
    client.on('event', listener);
  });
}

/**
 * What `pending` (a push listened for) has brought so far: read it once an answer has come to an op sent after the push
 * must have been, on the same connection (one connection's frames keep their order). No time is given, only an order:
 * a deadline on the push, before, measured the machine as well as the server.
 */
export function arrived<T>(pending: Promise<T>): () => T | undefined {
  let value: T | undefined;
  pending.then((v) => (value = v), () => undefined);
  return () => value;
}

export type Cas = (args: string[], stdin?: string) => Promise<CliResult>;

/** The real `cas` CLI, logged in once as `op` (`cas login` keeps the session in a temp dir), with --json unless `json: false`. */
export async function casSession(server: Pick<ServerProcess, 'adminUrl' | 'sfp'>, op: TestOperator, opts: { json?: boolean } = {}): Promise<Cas> {
  const env = { CAS_SESSION_DIR: tempDir('cas-session') };
  const cas: Cas = (args, stdin) => casCli(['--url', server.adminUrl, '--user', op.user, '--fingerprint', server.sfp, ...(opts.json === false ? [] : ['--json']), ...args], stdin, env);
  const login = await cas(['--totp', (await nextTotp(op))!, 'login'], op.password + '\n');
  if (login.code !== 0) throw new Error(`cas login: exit ${login.code}: ${login.stderr}`);
  return cas;
}
