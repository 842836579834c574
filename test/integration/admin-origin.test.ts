/**
 * @module The admin channel refuses a WebSocket upgrade sent by a web page of another origin (cross-site WebSocket
 * hijacking), against the real server over TLS: a page elsewhere open in an operator's browser must not log in from the
 * operator's address. Its own page (Origin = https:// + Host) and clients outside a browser (no Origin) connect.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addOperator, type TestOperator } from '../helpers/operator.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

/** Opens an admin connection with the given Origin header (none when undefined) and logs in; the HTTP status when refused. */
function connectWith(server: ServerProcess, op: TestOperator, origin: string | undefined): Promise<number | 'logged in'> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(server.adminUrl, { rejectUnauthorized: false, perMessageDeflate: false, ...(origin !== undefined && { headers: { Origin: origin } }) });
    ws.once('open', () => ws.send(JSON.stringify({ id: 1, op: 'login', args: { user: op.user, password: op.password } })));
    ws.once('message', (data) => {
      const reply = JSON.parse(data.toString()) as { ok: boolean; error?: string };
      ws.close();
      if (reply.ok) resolve('logged in');
      else reject(new Error(`login refused: ${reply.error}`));
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        ws.terminate();
        // Every error is JSON with a code (PROTOCOL.md), this one too.
        const parsed = res.headers['content-type'] === 'application/json' ? (JSON.parse(body) as { error?: unknown; message?: unknown }) : {};
        if (res.statusCode === 403 && (parsed.error !== 'forbidden' || typeof parsed.message !== 'string')) reject(new Error(`403 without its JSON error: ${body}`));
        else resolve(res.statusCode ?? 0);
      });
    });
    ws.once('error', reject);
  });
}

describe('the admin WebSocket upgrade and the Origin header', () => {
  let server: ServerProcess;
  let carol: TestOperator;
  let own: string;

  beforeAll(async () => {
    server = await startServerProcess();
    carol = await addOperator(server.dataDir, 'carol', { with2fa: false });
    own = `https://${new URL(server.adminUrl).host}`;
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('refuses a page of another origin with 403, and logs it once per address and window', async () => {
    const port = new URL(server.adminUrl).port;
    const foreign = ['https://evil.example', 'null', `http://127.0.0.1:${port}`, 'https://127.0.0.1:1', `https://localhost:${port}`, `https://evil.example@127.0.0.1:${port}`];
    for (const origin of foreign) expect({ origin, answer: await connectWith(server, carol, origin) }).toEqual({ origin, answer: 403 });
    await server.waitForLog((l) => l.msg === 'admin connection refused: a web page of another origin');
    const lines = server.logs.filter((l) => l.msg === 'admin connection refused: a web page of another origin');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, remoteAddress: '127.0.0.1', origin: 'https://evil.example', host: new URL(server.adminUrl).host });
  });

  it('lets in the server\'s own page and clients that send no Origin (cas, AdminClient)', async () => {
    expect(await connectWith(server, carol, own)).toBe('logged in');
    expect(await connectWith(server, carol, own.toUpperCase())).toBe('logged in');
    expect(await connectWith(server, carol, undefined)).toBe('logged in');
  });
});
