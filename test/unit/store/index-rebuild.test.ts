/**
 * @module Unit tests: filling an index at start-up on a real LMDB store. What must hold: a store large enough to take
 * seconds says so before the work and as it goes (main.ts logs it: the server does not serve meanwhile); a small one
 * says nothing; an index already whole is checked entry by entry and left alone, and one that differs from its records
 * with the counts equal is filled anew; a large one's check says so too.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from 'lmdb';
import { PROGRESS_EVERY, rebuildIndex } from '../../../src/store/index-rebuild.js';
import { openTempStore, type TempStore } from '../../helpers/actor-store.js';

let temp: TempStore;
let records: Database<number, number>;
let index: Database<true, number>;

beforeEach(() => {
  temp = openTempStore('index-rebuild', { fieldKey: false });
  records = temp.store.root.openDB<number, number>({ name: 'test-records' });
  index = temp.store.root.openDB<true, number>({ name: 'test-index' });
});

afterEach(async () => {
  await temp?.close();
});

async function fill(count: number): Promise<void> {
  await temp.store.root.transaction(() => {
    for (let i = 0; i < count; i++) records.putSync(i, i);
  });
}

const rebuild = (told: [number, number, string][] = []): number => rebuildIndex(temp.store.root, index, records, (n) => [n, true], (done, total, phase) => told.push([done, total, phase]));

describe('rebuildIndex', () => {
  it('tells its progress before and every PROGRESS_EVERY records on a large store, then checks a whole index and leaves it alone', async () => {
    const total = 2 * PROGRESS_EVERY + 7;
    await fill(total);
    const told: [number, number, string][] = [];
    expect(rebuild(told)).toBe(total);
    expect(told).toEqual([[0, total, 'filling'], [PROGRESS_EVERY, total, 'filling'], [2 * PROGRESS_EVERY, total, 'filling']]);
    expect(index.getKeysCount()).toBe(total);
    told.length = 0;
    expect(rebuild(told)).toBe(0);
    expect(told).toEqual([[0, total, 'checking'], [PROGRESS_EVERY, total, 'checking'], [2 * PROGRESS_EVERY, total, 'checking']]);
  });

  it('says nothing of a store it fills in a moment', async () => {
    await fill(PROGRESS_EVERY - 1);
    const told: [number, number, string][] = [];
    expect(rebuild(told)).toBe(PROGRESS_EVERY - 1);
    expect(rebuild(told)).toBe(0);
    expect(told).toEqual([]);
  });

  it('fills anew an index whose count matches its records\' but whose keys or values do not, and leaves a matching one alone', async () => {
    await fill(10);
    expect(rebuild()).toBe(10);
    // One record's entry gone, one entry of no record: the counts agree.
    await temp.store.root.transaction(() => {
      index.removeSync(3);
      index.putSync(99, true);
    });
    expect(rebuild()).toBe(10);
    expect([...index.getKeys()]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(rebuild()).toBe(0);
    // Every key there, one value not the record's (a terminal renamed without its search entry).
    await temp.store.root.transaction(() => index.putSync(4, false as unknown as true));
    expect(rebuild()).toBe(10);
    expect(index.get(4)).toBe(true);
  });

  it('tells the progress of its check of a large store, then of its filling when the check fails', async () => {
    const total = PROGRESS_EVERY + 7;
    await fill(total);
    expect(rebuild()).toBe(total);
    await temp.store.root.transaction(() => {
      index.removeSync(PROGRESS_EVERY + 3);
      index.putSync(-1, true);
    });
    const told: [number, number, string][] = [];
    expect(rebuild(told)).toBe(total);
    expect(told).toEqual([[0, total, 'checking'], [PROGRESS_EVERY, total, 'checking'], [0, total, 'filling'], [PROGRESS_EVERY, total, 'filling']]);
  });
});
