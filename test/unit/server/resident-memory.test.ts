/** @module Unit tests: the server's resident memory split into its own and its mapped files' pages, as Linux reports them. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { residentFromStatus, residentMemory } from '../../../src/server/resident-memory.js';

const KiB = 1024;

describe('resident memory', () => {
  it('reads RSS and, of it, the pages of mapped files and shared memory from /proc/PID/status', () => {
    const status = 'Name:\tnode\nVmHWM:\t  999999 kB\nVmRSS:\t  534784 kB\nRssAnon:\t  145840 kB\nRssFile:\t  388000 kB\nRssShmem:\t     944 kB\nVmData:\t 1 kB\n';
    expect(residentFromStatus(status)).toEqual({ rssBytes: 534_784 * KiB, rssFileBytes: 388_944 * KiB });
    // A kernel that keeps no shared memory account: the file pages alone.
    expect(residentFromStatus('VmRSS:\t 100 kB\nRssFile:\t 40 kB\n')).toEqual({ rssBytes: 100 * KiB, rssFileBytes: 40 * KiB });
    // One that does not split RSS at all: the whole, and nothing said of its parts (not a zero).
    expect(residentFromStatus('VmRSS:\t 100 kB\n')).toEqual({ rssBytes: 100 * KiB, rssFileBytes: null });
    expect(residentFromStatus('not a status file')).toBeNull();
  });

  it.runIf(process.platform === 'linux')('gives this process its own memory apart from its file pages', () => {
    const memory = residentMemory();
    // This process maps node's binary at least, and owns its heaps: both parts are there, the file ones the smaller.
    expect(memory.rssFileBytes).toBeGreaterThan(4 * 1024 * KiB);
    expect(memory.rssBytes - memory.rssFileBytes!).toBeGreaterThan(memory.rssFileBytes! / 4);
    // And they are the kernel's figures, not an estimate: within what a test's allocations move between two reads.
    const again = residentFromStatus(readFileSync('/proc/self/status', 'utf8'))!;
    expect(Math.abs(again.rssBytes - memory.rssBytes)).toBeLessThan(16 * 1024 * KiB);
    expect(Math.abs(again.rssFileBytes! - memory.rssFileBytes!)).toBeLessThan(16 * 1024 * KiB);
  });
});
