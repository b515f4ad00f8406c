import { defineConfig } from 'vitest/config';

/**
 * Tests that assert a poll schedule is kept (a healthy device beside bad ones, no slot skipped by
 * a reload). On two cores, a CPU-heavy test file beside them takes the agent's CPU and fails them
 * for the machine's sake, not the agent's: they run alone, after the rest.
 */
const SCHEDULE = ['test/faults/neighbours.test.ts', 'test/e2e/approve.test.ts', 'test/e2e/schedule.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30000,
    hookTimeout: 30000,
    projects: [
      {
        extends: true,
        // Integration tests start real servers; two cores, so keep parallelism modest.
        test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: SCHEDULE, maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'schedule', include: SCHEDULE, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
