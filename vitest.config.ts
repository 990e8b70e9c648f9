import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start local servers and child processes; two cores.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
