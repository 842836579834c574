/** @module vitest configuration: integration tests start real servers, so they get generous hook timeouts. */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './test/summary-reporter.ts'],
    // One temp root per run, removed at its end (KEEP_TEST_TMP=1 keeps it); then the reliability tests' findings
    // (test-output/reliability/) composed into docs/RELIABILITY.md.
    globalSetup: ['./test/temp-root.ts', './test/reliability-report.ts'],
  },
});
