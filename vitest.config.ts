/** @module vitest configuration: integration tests start real servers, so they get generous hook timeouts. */
import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // expect.poll's own default is 1 s: a login's password check alone can take that on a loaded 2-core machine (one
    // page test failed so in a run beside other work). A poll that holds returns as soon as it does.
    expect: { poll: { timeout: 10_000 } },
    pool: 'forks',
    // Two files at once even on 2 cores (vitest's default there is one): most of a file's time is spent waiting on
    // its servers, TLS handshakes and deadlines, so a second file fills it; on 2 cores the suite takes 7.6 min instead
    // of 13. Every file's servers take their own ports (test/helpers/ports.ts) and temp dirs, so files do not meet.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    reporters: ['default', './test/summary-reporter.ts'],
    // One temp root per run, removed at its end (KEEP_TEST_TMP=1 keeps it); then the reliability tests' findings
    // (test-output/reliability/) composed into docs/RELIABILITY.md.
    globalSetup: ['./test/temp-root.ts', './test/reliability-report.ts'],
  },
});
