/** @module The file that hands one generator's pre-signed calls to the other, so both targets get the same requests. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadPresigned, savePresigned } from '../../../bench/fleet/presigned-file.js';

describe('pre-signed calls in a file', () => {
  let dir = '';
  afterEach(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  const file = (): string => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'presigned-test-'));
    return path.join(dir, 'requests.bin');
  };

  it('reads back every request of every terminal, byte for byte and in order', () => {
    const requests = [
      [Buffer.from('POST /v1/ping HTTP/1.1\r\nA: 1\r\n\r\n'), Buffer.alloc(0), Buffer.from([0, 255, 13, 10])],
      [Buffer.from('x'.repeat(5000)), Buffer.from('y'), Buffer.from('z\r\n')],
    ];
    const f = file();
    savePresigned(f, requests);
    expect(loadPresigned(f).map((calls) => calls.map((b) => b.toString('latin1')))).toEqual(requests.map((calls) => calls.map((b) => b.toString('latin1'))));
    expect(fs.statSync(f).mode & 0o777).toBe(0o600);
  });

  it('refuses a truncated or padded file instead of sending partial requests', () => {
    const f = file();
    savePresigned(f, [[Buffer.from('abc'), Buffer.from('defg')]]);
    const whole = fs.readFileSync(f);
    fs.writeFileSync(f, whole.subarray(0, whole.length - 1));
    expect(() => loadPresigned(f)).toThrow(/not a complete file/);
    fs.writeFileSync(f, Buffer.concat([whole, Buffer.from([0])]));
    expect(() => loadPresigned(f)).toThrow(/not a complete file/);
  });

  it('refuses terminals with different numbers of calls', () => {
    expect(() => savePresigned(file(), [[Buffer.from('a')], []])).toThrow(/same number/);
  });
});
