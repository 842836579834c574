/**
 * @module Unit tests: the store is mapped into the process once however it grows (store.ts, MAP_BYTES), on a real LMDB
 * store. lmdb-js's default maps the file's size and maps it again, twice as large, each time a write goes past it,
 * keeping every old map until the store closes: the pages read through each map counted in RSS once per map.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Store, storeMapBytes } from '../../../src/store/store.js';

let dataDir: string;
let store: Store | null = null;

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-map-'));
});

afterEach(async () => {
  await store?.close();
  store = null;
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** This process's mappings of the store's data file. */
function storeMaps(): string[] {
  const file = path.join(fs.realpathSync(dataDir), 'store', 'data.mdb');
  return fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((line) => line.endsWith(` ${file}`));
}

describe.runIf(process.platform === 'linux')('the store\'s map', () => {
  it('is one map of the data file while the store grows from nothing to tens of MB, and across a reopen', async () => {
    store = Store.open(dataDir, { fieldKey: false });
    const filler = store.root.openDB<Buffer, number>({ name: 'test-filler', encoding: 'binary' });
    const value = Buffer.alloc(4096, 7);
    // 32 MB in several commits, each read back: every growth of the file is met by a reader.
    for (let batch = 0; batch < 8; batch++) {
      await store.root.transaction(() => {
        for (let i = 0; i < 1000; i++) filler.put(batch * 1000 + i, value);
      });
      expect(filler.get(batch * 1000)?.equals(value)).toBe(true);
    }
    expect(fs.statSync(path.join(dataDir, 'store', 'data.mdb')).size).toBeGreaterThan(32 * 1024 ** 2);
    expect(storeMaps()).toHaveLength(1);
    await store.close();

    store = Store.open(dataDir, { fieldKey: false });
    const again = store.root.openDB<Buffer, number>({ name: 'test-filler', encoding: 'binary' });
    await store.root.transaction(() => {
      for (let i = 8000; i < 9000; i++) again.put(i, value);
    });
    expect(again.get(8999)?.equals(value)).toBe(true);
    expect(storeMaps()).toHaveLength(1);
  });
});

describe('the store\'s map size', () => {
  const limits = (soft: string): string => `Limit                     Soft Limit           Hard Limit           Units     \nMax data size             unlimited            unlimited            bytes     \nMax address space         ${soft}            unlimited            bytes     \n`;

  it('is 64 GiB of address space unless the process\'s is limited, where lmdb-js sizes it as the file grows', () => {
    expect(storeMapBytes(limits('unlimited'))).toBe(64 * 1024 ** 3);
    // Under `ulimit -v`, a 64 GiB map fails inside lmdb-js with a segmentation fault: its own sizing then.
    expect(storeMapBytes(limits('17179869184'))).toBeUndefined();
    // No /proc (not Linux), or a kernel whose limits name no address space: nothing limits the map.
    expect(storeMapBytes(null)).toBe(64 * 1024 ** 3);
    expect(storeMapBytes('Limit Soft Limit\n')).toBe(64 * 1024 ** 3);
  });
});
