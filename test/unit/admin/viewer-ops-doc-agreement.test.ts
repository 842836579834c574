/**
 * @module ADMIN-OPS.md's list of what a viewer's session may run is every op that changes nothing on the server: an
 * administrator picks an auditor's role by it. The cash ops (`cash.list`, `cash.export`, `cash.next`) were left out of it
 * for sessions while the code let viewers run them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPS } from '../../../src/admin/ops.js';

describe('ADMIN-OPS.md on roles', () => {
  it('lists exactly the ops a viewer may run', () => {
    const doc = fs.readFileSync(path.resolve(import.meta.dirname, '../../../docs/ADMIN-OPS.md'), 'utf8');
    const paragraph = /A viewer's session may run: ([^]*?)\. Every other op/.exec(doc)?.[1];
    expect(paragraph, 'the paragraph "A viewer\'s session may run: … Every other op"').toBeDefined();
    const listed = [...paragraph!.matchAll(/`([a-z0-9_.]+)`/g)].map((m) => m[1]!).sort();
    const allowed = Object.entries(OPS).filter(([, spec]) => spec.changes !== 'server').map(([name]) => name).sort();
    expect(allowed).toContain('cash.list');
    expect(listed).toEqual(allowed);
  });
});
