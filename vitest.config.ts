import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup-node.ts'],
    // TF.js keeps one global engine per process: run each test file in its own fork.
    pool: 'forks',
    // Test files run side by side (one per core): one native thread each, so OpenBLAS's and the
    // addon's threads do not oversubscribe the cores and spin against each other.
    env: { WEIGHT_PREDICTION_THREADS: '1' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
