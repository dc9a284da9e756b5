import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The one dist/ freshness rule (compile lib/ once per run), then redis-server and PostgreSQL
    // installed (as root) or demanded before any test runs.
    globalSetup: ['test/support/dist.ts', 'test/support/setup-servers.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    coverage: {
      provider: 'v8',
      include: ['lib/**/*.ts'],
      reporter: ['text-summary', 'text', 'json-summary'],
      reportOnFailure: true,
      reportsDirectory: 'coverage',
      // Just below the figures measured when coverage was introduced: a drop fails the run, and the
      // thresholds go up as tests are added.
      thresholds: { lines: 91, statements: 87, functions: 95, branches: 82 },
    },
    setupFiles: ['test/support/setup-addon.ts'],
  },
});
