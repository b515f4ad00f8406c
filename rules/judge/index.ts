// Public surface of the cycle judge: one device's poll cycle in, signal drafts out (see judge.ts).
export { CycleJudge, TIME_EVAL_MS, type JudgeCounts, type JudgeHooks } from './judge.js';
export { LOOP_RESTART_RULE, SCHEDULE_RULE } from './builtin.js';
export type { Cycle, LoopRestart } from './cycle.js';
