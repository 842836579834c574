/**
 * @module Live fuzzing of a running server: hundreds of hostile requests to gate and master (garbage and damaged signed
 * requests), raw bytes over TLS, and hostile frames on the admin WebSocket, anonymous and logged in. Every answer is a
 * documented error, the server stays up, a paired terminal still works, and stored state is unchanged (the audit log only grows).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import { OPS } from '../../src/admin/ops.js';
import { DEFAULTS } from '../../src/config.js';
import { ERROR_CODES, isErrorCode } from '../../src/errors.js';
import { serverCli } from '../helpers/cli.js';
import {
  DOCUMENTED_STATUSES, PARSER_REFUSED, RawAdminSocket, beyondParser, garbageRequest, isDocumentedError, mutatedRequest,
  sendFuzz, sendRawTls, type FuzzAnswer, type FuzzRequest,
} from '../helpers/live-fuzz.js';
import { addOperator, connectOperator, nextTotp, pairRawTerminal } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { FuzzTally, writeSection } from '../helpers/reliability.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { anyHeaderText, sfLikeText } from '../helpers/mutate.js';

let server: ServerProcess;
let alice: AdminClient;
const P = RawTerminal.create('FUZZ-P', 'ec');
const tally = new FuzzTally();
let before: { terminals: unknown[]; pairing: unknown[]; audit: Array<{ seq: number }> };
/** Serials an ok `terminals.create` from the logged-in fuzz made: the only state change allowed. */
const createdByFuzz = new Set<string>();

const withoutLastSeen = (list: Array<Record<string, unknown>>) => list.map(({ lastSeenAt: _ignored, ...rest }) => rest);

async function snapshot() {
  return {
    terminals: withoutLastSeen((await alice.request<{ terminals: Array<Record<string, unknown>> }>('terminals.list', { limit: 1000 })).terminals),
    pairing: (await alice.request<{ requests: unknown[] }>('pairing.list', { limit: 1000 })).requests,
    audit: await alice.request<Array<{ seq: number }>>('audit.list', { limit: 10_000 }),
  };
}

beforeAll(async () => {
  server = await startServerProcess();
  alice = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
  await alice.request('gate.open', { minutes: 30 });
  await pairRawTerminal(alice, server, P);
  before = await snapshot();
}, 60_000);

afterAll(async () => {
  await alice?.close();
  await server?.stop();
  writeSection({
    name: 'fuzz-live',
    title: 'Fuzzing a running server (gate, master, admin WebSocket)',
    summary: [
      'Garbage requests (any method, path, header, body; Latin-1 bytes that are invalid UTF-8; 8–40 KB headers; 4–20 KB bodies) and validly signed requests of a paired terminal with one part damaged.',
      'Every request within the HTTP parser\'s limits got a JSON `{error, message}` whose code has the answer\'s status in the error table (400/401/403/404/409/413/429/503), or the genuine answer when the damage was neutral; unknown methods, HEAD, over-long header lists and request heads longer than one TLS record (16 KiB; uWS holds at most 4 KiB of a head between reads) may be closed by the uWebSockets.js parser without an answer. A body over the service\'s limit is answered 413 and the connection closed before the body is read, so a client still sending may see the reset first.',
      'Raw bytes over TLS (garbage, broken request lines, smuggling attempts) and admin frames (garbage text, invalid UTF-8, binary, over-size, every op with hostile arguments, anonymous and logged in): only documented codes, never `internal_error`.',
      'Afterwards the paired terminal still works, terminals and pairing requests are unchanged, the audit log only grew and its hash chain verifies.',
    ],
    numbers: { inputsFuzzed: tally.total },
    table: tally.table(),
  });
});

const BODY_LIMITS = { gate: DEFAULTS.gateMaxBodyBytes, master: DEFAULTS.masterMaxBodyBytes } as const;

/**
 * A body over the service's limit is answered 413 before it is read, and the connection is closed so the rest of the
 * upload is not parsed as the next request. A client still sending then gets a reset, which can reach it before the 413.
 */
const resetAfter413 = (request: FuzzRequest, answer: { closed: string }): boolean =>
  (request.body?.length ?? 0) > BODY_LIMITS[request.service] && (answer.closed === 'ECONNRESET' || answer.closed === 'EPIPE');

/** Enough of a request to find it again when it fails: its line, header names and sizes, body size. */
const describeRequest = (r: FuzzRequest): string =>
  `${r.service} ${r.kind} ${r.method} ${r.path.slice(0, 60)} headers ${Object.entries(r.headers).map(([k, v]) => `${k}:${v.length}`).join(',')} body ${r.body?.length ?? 'none'}`;

function judge(request: FuzzRequest, answer: FuzzAnswer): string {
  const target = `${request.service} ${request.kind}`;
  if ('closed' in answer) {
    if (resetAfter413(request, answer)) {
      tally.outcome(target, `closed after 413 while the body was still being sent (${answer.closed})`);
      return 'ok';
    }
    const parserLimit = beyondParser(request);
    tally.outcome(target, parserLimit ? 'closed by the HTTP parser' : `closed: ${answer.closed}`);
    return parserLimit ? 'ok' : `closed without an answer (${answer.closed}): ${describeRequest(request)}`;
  }
  if (answer.status === 200 || answer.status === 202) {
    tally.outcome(target, `${answer.status}`);
    // Only a damaged-but-still-valid signed request may succeed, and then with the genuine answer.
    const genuine = request.kind === 'mutated' && typeof answer.json === 'object' && answer.json !== null && !('error' in answer.json);
    return genuine ? 'ok' : `unexpected success ${answer.text.slice(0, 80)}`;
  }
  const code = (answer.json as { error?: unknown } | undefined)?.error;
  tally.outcome(target, `${answer.status} ${String(code)}`);
  return isDocumentedError(answer.status, answer.json) ? 'ok' : `undocumented answer ${answer.status} ${answer.text.slice(0, 120)}`;
}

describe('gate and master under hostile requests', () => {
  it.each([
    ['garbage', 300],
    ['damaged signed requests', 200],
  ] as const)('%s: documented answers only', async (which, numRuns) => {
    const arbitrary = which === 'garbage' ? garbageRequest(P) : mutatedRequest(P);
    await fc.assert(
      fc.asyncProperty(arbitrary, async (request) => {
        const started = performance.now();
        const answer = await sendFuzz(server.ports[request.service], request);
        tally.count(`${request.service} ${request.kind}`, performance.now() - started);
        expect(judge(request, answer)).toBe('ok');
      }),
      // No shrinking: on a live server a failure is about timing as much as input, and each retry can cost a timeout.
      { numRuns, endOnFailure: true },
    );
  });

  it('what the HTTP parser refuses gets no answer or a documented one, and holds up no one else', async () => {
    // Limits of the uWebSockets.js parser (header names beyond [A-Za-z0-9-], > ~45 headers, HEAD, unknown methods): such a
    // request may wait for the idle timeout. What matters is that these connections cost nothing to the clients around them.
    const stuck = PARSER_REFUSED.map((r) => sendFuzz(server.ports.master, { service: 'master', kind: 'garbage', method: r.method, path: '/api/v1/ping', headers: r.headers, body: r.method === 'HEAD' ? undefined : Buffer.from('{}') }, 2_000));
    const ping = await P.send(server.masterUrl, '/api/v1/ping', { body: '{}' });
    expect(ping.status).toBe(200);
    const answers = await Promise.all(stuck);
    answers.forEach((answer, i) => {
      tally.count('refused by the HTTP parser', 0, 'closed' in answer ? 'no answer' : String(answer.status));
      if (!('closed' in answer)) expect(isDocumentedError(answer.status, answer.json), PARSER_REFUSED[i]!.name).toBe(true);
    });
    expect((await P.send(server.masterUrl, '/api/v1/ping', { body: '{}' })).status).toBe(200);
  });

  it('raw bytes over TLS: closed or a documented status', async () => {
    const line = fc.tuple(fc.constantFrom('GET', 'POST', 'HEAD', 'FOO', '', 'POST /api/v1/ping'), sfLikeText, fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1\r\n', ''));
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 1_024 }).map((b) => Buffer.from(b)),
      line.map(([m, p, v]) => Buffer.from(`${m} /${p} ${v}\r\nHost: x\r\n\r\n`, 'latin1')),
      fc.constantFrom(
        'POST /api/v1/ping HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}',
        'POST /api/v1/ping HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 30\r\n\r\n{}',
        'POST /api/v1/ping HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}',
        'POST /api/v1/ping HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n{}',
        'POST /api/v1/ping HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n',
        'GET /api/v1/deposit-address?coin=BTC HTTP/1.1\r\nHost: x\r\n Folded: header\r\n\r\n',
        `GET /${'a'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      ).map((t) => Buffer.from(t, 'latin1')),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<'gate' | 'master'>('gate', 'master'), bytes, async (service, payload) => {
        const started = performance.now();
        const status = await sendRawTls(server.ports[service], payload);
        tally.count('raw TLS bytes', performance.now() - started);
        tally.outcome('raw TLS bytes', status === null ? 'closed' : String(status));
        if (status !== null) expect(DOCUMENTED_STATUSES).toContain(status);
      }),
      { numRuns: 60 },
    );
  });
});

/** Ops the logged-in fuzz may call with hostile arguments: those that change state only with exactly valid arguments. */
const FUZZED_OPS = Object.keys(OPS).filter((op) => !['logout', 'gate.open', 'gate.close', 'totp.enroll', 'vpn.set', 'vpn.export', 'vpn.regenerate', 'login'].includes(op));

const hostileArgs = fc.oneof(
  fc.dictionary(fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('serial', 'requestId', 'code', 'token', 'user', 'password', 'totp', 'limit', 'state', 'coin', 'address', 'topics', '__proto__', 'constructor')), fc.oneof(fc.jsonValue(), anyHeaderText), { maxKeys: 5 }),
  fc.jsonValue(),
);

function adminFrames(ops: readonly string[]): fc.Arbitrary<{ frame: string | Buffer; binary: boolean; label: string }> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }).map((s) => ({ frame: s, binary: false, label: 'text' })) },
    { weight: 2, arbitrary: fc.jsonValue().map((v) => ({ frame: JSON.stringify(v), binary: false, label: 'JSON' })) },
    { weight: 6, arbitrary: fc.record({ id: fc.oneof(fc.integer(), fc.jsonValue()), op: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...ops) }, { weight: 1, arbitrary: fc.string({ maxLength: 20 }) }), args: hostileArgs }, { requiredKeys: ['op'] }).map((v) => ({ frame: JSON.stringify(v), binary: false, label: `op ${String(v.op).slice(0, 20)}` })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => ({ frame: Buffer.from(b), binary: true, label: 'binary' })) },
    { weight: 1, arbitrary: fc.constant({ frame: Buffer.from([0x7b, 0xc3, 0x28, 0xff, 0xfe, 0x7d]), binary: false, label: 'invalid UTF-8 text' }) },
    { weight: 1, arbitrary: fc.constant({ frame: JSON.stringify({ id: 1, op: 'terminals.list', args: { pad: 'x'.repeat(70 * 1024) } }), binary: false, label: 'over-size' }) },
  );
}

/**
 * Fuzzes one admin connection and returns the kinds of frame that succeeded; `attach` (when given) runs again
 * whenever the server closed the socket. Returns the frame kinds that got `ok: true`.
 */
async function fuzzAdmin(label: string, numRuns: number, ops: readonly string[], attach?: (socket: RawAdminSocket) => Promise<void>, localAddress?: string): Promise<Set<string>> {
  const succeeded = new Set<string>();
  let socket = await RawAdminSocket.open(server.adminUrl, localAddress);
  await attach?.(socket);
  await fc.assert(
    fc.asyncProperty(adminFrames(ops), async ({ frame, binary, label: kind }) => {
      if (!socket.open) {
        socket = await RawAdminSocket.open(server.adminUrl, localAddress);
        await attach?.(socket);
      }
      const started = performance.now();
      const reply = await socket.exchange(frame, { binary });
      tally.count(label, performance.now() - started);
      expect(reply, `no reply to a ${kind} frame`).not.toBeNull();
      if (typeof reply !== 'string') {
        // Only protocol violations close the socket: invalid UTF-8 (1007) and over-size frames (1009).
        tally.outcome(label, `closed ${reply!.closed}`);
        expect(['invalid UTF-8 text', 'over-size']).toContain(kind);
        return;
      }
      const parsed = JSON.parse(reply) as { id: unknown; ok: boolean; error?: unknown; message?: unknown; result?: { serial?: string } };
      expect(Number.isSafeInteger(parsed.id)).toBe(true);
      if (parsed.ok) {
        tally.outcome(label, 'ok');
        succeeded.add(kind);
        if (kind === 'op terminals.create' && parsed.result?.serial) createdByFuzz.add(parsed.result.serial);
        return;
      }
      tally.outcome(label, String(parsed.error));
      expect(isErrorCode(parsed.error)).toBe(true);
      expect(parsed.error).not.toBe('internal_error');
      expect(typeof parsed.message).toBe('string');
      expect(ERROR_CODES[parsed.error as keyof typeof ERROR_CODES]).toBeGreaterThanOrEqual(400);
    }),
    { numRuns },
  );
  socket.close();
  return succeeded;
}

describe('the admin WebSocket under hostile frames', () => {
  it('anonymous: every frame gets a coded refusal, nothing succeeds', async () => {
    // From an address of its own: anonymous ops spend the address's login budget (20 a minute), not the operator's below.
    const succeeded = await fuzzAdmin('admin anonymous', 200, Object.keys(OPS), undefined, '127.0.0.77');
    expect([...succeeded]).toEqual([]);
  });

  it('logged in with 2FA: every op with hostile arguments gets a result or a coded refusal', async () => {
    const fuzzer = await addOperator(server.dataDir, 'fuzzer');
    let token: string | null = null;
    // Log in once; a socket the server closed (invalid UTF-8, over-size) is re-attached with resume, as the web page does.
    const attach = async (socket: RawAdminSocket) => {
      const frame = token === null
        ? { id: 1, op: 'login', args: { user: fuzzer.user, password: fuzzer.password, totp: await nextTotp(fuzzer) } }
        : { id: 1, op: 'resume', args: { token } };
      const reply = JSON.parse(String(await socket.exchange(JSON.stringify(frame)))) as { ok: boolean; result: { token?: string } };
      expect(reply.ok).toBe(true);
      token ??= reply.result.token ?? null;
    };
    await fuzzAdmin('admin logged in', 200, FUZZED_OPS, attach);
  });
});

describe('afterwards', () => {
  it('the paired terminal still works', async () => {
    const ping = await P.send(server.masterUrl, '/api/v1/ping', { body: '{}' });
    expect(ping.status).toBe(200);
    const trusted = await P.gate(server.gateUrl, {});
    expect(trusted.json.status).toBe('trusted');
  });

  it('terminals and pairing requests are unchanged, the audit log only grew and verifies', async () => {
    const after = await snapshot();
    const expectedTerminals = after.terminals.filter((t) => !createdByFuzz.has((t as { serial: string }).serial));
    expect(expectedTerminals).toEqual(before.terminals);
    expect(after.pairing).toEqual(before.pairing);
    const afterBySeq = new Map(after.audit.map((e) => [e.seq, e]));
    for (const entry of before.audit) expect(afterBySeq.get(entry.seq)).toEqual(entry);
    expect(after.audit.length).toBeGreaterThan(before.audit.length);
    const verify = await serverCli(['audit', 'verify', '--json', '--data-dir', server.dataDir]);
    expect(verify.json).toMatchObject({ ok: true });
  });

  it('the server never failed unexpectedly', () => {
    const unexpected = server.logs.filter((l) => typeof l.level === 'number' && l.level >= 50);
    expect(unexpected.map((l) => l.msg)).toEqual([]);
  });
});
