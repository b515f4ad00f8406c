// How the agent's Node process is started in production (deploy/otsentry.service's ExecStart and
// Environment; a test keeps the unit in step with this file), and by the benchmark, so its figures
// are the product's. Measured with `node dist/bench/step.js --rules 100x100@100 125x125@10`:
// - --max-semi-space-size=8 (MB; V8's default lets the young generation grow to 16 MB per
//   semi-space): at 100,000 samples/s the agent allocates a few MB/s and scavenges about every
//   second instead of every 2.5 s; each scavenge costs the same few ms, so CPU stays within noise;
// - --v8-pool-size=1: one V8 worker thread for background GC and compiles instead of one per core
//   (their heaps, stacks and malloc arenas); the agent's main thread does the work anyway;
// - MALLOC_ARENA_MAX=2: glibc's malloc keeps at most two arenas instead of up to 8 per core.
// Together: peak RSS 113-114 MB instead of 134-136 MB at 100,000 samples/s with the bench rules
// (0.049 CPU-s/s both), and about 160 MB instead of 250 MB at 1.56 million samples/s, for about 3%
// more CPU per sample there.

/** Node flags of the agent process. */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--v8-pool-size=1'];

/** Environment of the agent process besides the inherited one. */
export const AGENT_NODE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
