import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // TF.js keeps one global engine per process: run each test file in its own fork.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
