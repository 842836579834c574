/**
 * @module Integration test: a store opens, takes writes and reads them back in a process whose address space is limited
 * (`ulimit -v`, systemd's LimitAS=). The 64 GiB map the store asks for elsewhere (src/store/store.ts) ended such a
 * process with a segmentation fault inside lmdb-js.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const STORE_MODULE = path.resolve('dist', 'src', 'store', 'store.js');
let dataDir: string | null = null;

afterEach(() => {
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  dataDir = null;
});

describe.runIf(process.platform === 'linux')('a store under an address-space limit', () => {
  it('opens, grows past its first map and reads back what it wrote, with 16 GiB of address space', async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-address-limit-'));
    const script = `
      const { Store } = await import(${JSON.stringify(STORE_MODULE)});
      const store = Store.open(${JSON.stringify(dataDir)}, { fieldKey: false });
      const filler = store.root.openDB({ name: 'test-filler', encoding: 'binary' });
      const value = Buffer.alloc(4096, 7);
      await store.root.transaction(() => { for (let i = 0; i < 4000; i++) filler.put(i, value); });
      console.log(JSON.stringify({ read: filler.get(3999)?.equals(value) ?? false }));
      await store.close();`;
    const { stdout } = await run('bash', ['-c', 'ulimit -v 16777216 && exec "$0" --input-type=module -e "$1"', process.execPath, script]);
    expect(JSON.parse(stdout.trim())).toEqual({ read: true });
  });
});
