/** @module The logger's redaction: secrets at the top level of a logged object, one level down, and on the few deeper paths, never reach a line. */
import { describe, expect, it } from 'vitest';
import { CENSOR, censorNestedSecrets, createLogger, SECRET_KEYS } from '../../../src/logger.js';

/** A logger writing into an array, one parsed JSON object per line. */
function capture(): { log: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: 'info', pretty: false }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

describe('logger redaction', () => {
  it.each(SECRET_KEYS)('censors "%s" at the top level and one level down under any name', (secret) => {
    const { log, lines } = capture();
    log.info({ [secret]: 'hunter2', args: { [secret]: 'hunter2', user: 'ops' }, anyName: { [secret]: 'hunter2' } }, 'careless');
    const [line] = lines;
    expect(JSON.stringify(line)).not.toContain('hunter2');
    expect(line).toMatchObject({ [secret]: CENSOR, args: { [secret]: CENSOR, user: 'ops' }, anyName: { [secret]: CENSOR }, msg: 'careless' });
  });

  it('censors the signature and authorization headers and a request cookie', () => {
    const { log, lines } = capture();
    log.info({ headers: { signature: 'sig=:abc:', authorization: 'Bearer abc', host: 'x' }, req: { headers: { cookie: 'session=abc' } } }, 'request');
    expect(JSON.stringify(lines[0])).not.toContain('abc');
    expect(lines[0]).toMatchObject({ headers: { signature: CENSOR, authorization: CENSOR, host: 'x' }, req: { headers: { cookie: CENSOR } } });
  });

  it('leaves plain fields, arrays, errors and the caller\'s object as they are', () => {
    const { log, lines } = capture();
    const fields = { serial: 'SN-1', count: 3, nested: { token: 't0ken', keep: 1 }, list: [1, 2] };
    log.info(fields, 'cash event stored');
    log.error({ err: new Error('boom') }, 'failed');
    expect(lines[0]).toMatchObject({ serial: 'SN-1', count: 3, nested: { token: CENSOR, keep: 1 }, list: [1, 2] });
    expect(fields.nested.token).toBe('t0ken');
    expect(lines[1]).toMatchObject({ err: { message: 'boom' }, msg: 'failed' });
  });

  it('hands back the very object when nothing in it is secret, so a plain line allocates nothing more', () => {
    const plain = { serial: 'SN-1', nested: { keep: 1 } };
    expect(censorNestedSecrets(plain)).toBe(plain);
  });
});
