/** @module Findings of the reliability tests (fuzzing, attacks, crashes, secrets, TLS), written as JSON for docs/RELIABILITY.md. */
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './server-process.js';

export const RELIABILITY_DIR = path.join(ROOT, 'test-output', 'reliability');

/** Headline numbers the report adds up across sections; a section sets only those it measured. */
export interface ReliabilityNumbers {
  attacks?: number;
  attacksRefused?: number;
  inputsFuzzed?: number;
  kills?: number;
  eventsAcknowledged?: number;
  eventsLost?: number;
  secretsChecked?: number;
  secretsLeaked?: number;
  tlsHandshakes?: number;
}

export interface ReliabilitySection {
  /** Sort key and file name (`<name>.json`). */
  name: string;
  title: string;
  /** What the section proves, one line each. */
  summary: string[];
  numbers: ReliabilityNumbers;
  table?: { columns: string[]; rows: Array<Array<string | number>> };
  generatedAt: string;
  command: string;
}

/** How this run was started, for the report: set by the report's globalSetup (inherited by the test workers), else guessed. */
export function runCommand(): string {
  if (process.env.RELIABILITY_COMMAND) return process.env.RELIABILITY_COMMAND;
  const event = process.env.npm_lifecycle_event;
  if (event === 'test') return 'npm test';
  if (event && event !== 'npx') return `npm run ${event}`;
  return `node ${process.argv.slice(1).map((a) => a.replace(/^.*\/node_modules\//, '')).join(' ')}`;
}

export function writeSection(section: Omit<ReliabilitySection, 'generatedAt' | 'command'>): void {
  fs.mkdirSync(RELIABILITY_DIR, { recursive: true });
  const full: ReliabilitySection = { ...section, generatedAt: new Date().toISOString(), command: runCommand() };
  fs.writeFileSync(path.join(RELIABILITY_DIR, `${section.name}.json`), JSON.stringify(full, null, 2) + '\n');
}

/** Counts inputs per fuzz target and the slowest one, so the report can say what was tried and how long it took. */
export class FuzzTally {
  private readonly rows = new Map<string, { inputs: number; maxMs: number; outcomes: Map<string, number> }>();

  /** Runs `check` on one input, timing it; returns what `check` returns. */
  time<T>(target: string, check: () => T): T {
    const start = performance.now();
    try {
      return check();
    } finally {
      this.count(target, performance.now() - start);
    }
  }

  count(target: string, ms = 0, outcome?: string): void {
    let row = this.rows.get(target);
    if (!row) this.rows.set(target, (row = { inputs: 0, maxMs: 0, outcomes: new Map() }));
    row.inputs++;
    row.maxMs = Math.max(row.maxMs, ms);
    if (outcome !== undefined) row.outcomes.set(outcome, (row.outcomes.get(outcome) ?? 0) + 1);
  }

  outcome(target: string, outcome: string): void {
    const row = this.rows.get(target);
    if (row) row.outcomes.set(outcome, (row.outcomes.get(outcome) ?? 0) + 1);
  }

  maxMs(target: string): number {
    return this.rows.get(target)?.maxMs ?? 0;
  }

  get total(): number {
    let sum = 0;
    for (const row of this.rows.values()) sum += row.inputs;
    return sum;
  }

  table(): { columns: string[]; rows: Array<Array<string | number>> } {
    return {
      columns: ['target', 'inputs', 'slowest (ms)', 'outcomes'],
      rows: [...this.rows].map(([target, row]) => [
        target,
        row.inputs,
        row.maxMs.toFixed(1),
        [...row.outcomes].sort((a, b) => b[1] - a[1]).map(([o, n]) => `${o} ×${n}`).join(', ') || '—',
      ]),
    };
  }
}
