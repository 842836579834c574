/** @module vitest configuration: integration tests start real servers, so they get generous hook timeouts. */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './test/summary-reporter.ts'],
    // Composes the reliability tests' findings (test-output/reliability/) into docs/RELIABILITY.md at the end of a run.
    globalSetup: ['./test/reliability-report.ts'],
  },
});
