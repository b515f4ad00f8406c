// The layering of DESIGN.md ("Layering"), enforced by `npm test`: protocols/ at the bottom, rules/
// above it, agent/ on top; simulators/ beside, used only by the CLI, the demo, tests and bench.
// An import against the direction, or a cycle, fails the suite.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'protocols-are-the-bottom',
      comment: 'protocols/ (Poller, Sample, Fact, device configs, logger, problems) imports no other layer of the project.',
      severity: 'error',
      from: { path: '^protocols/' },
      to: { path: '^(rules|agent|simulators|bench|test)/' },
    },
    {
      name: 'rules-below-agent',
      comment: 'rules/ (signal vocabulary, engine, detectors, alerts, learning, recording format, judge) imports only protocols/.',
      severity: 'error',
      from: { path: '^rules/' },
      to: { path: '^(agent|simulators|bench|test)/' },
    },
    {
      name: 'agent-is-not-a-test',
      comment: 'the daemon and its CLI never import benchmarks or tests.',
      severity: 'error',
      from: { path: '^agent/' },
      to: { path: '^(bench|test)/' },
    },
    {
      name: 'simulators-only-from-cli-demo-tests-bench',
      comment: 'simulators are started by the CLI (agent/cli*), the demo, tests and benchmarks, nothing else.',
      severity: 'error',
      from: { path: '^(agent|protocols|rules)/', pathNot: '^agent/(cli|demo)' },
      to: { path: '^simulators/' },
    },
    {
      name: 'simulators-stand-beside',
      comment: 'a simulator uses the wire-level helpers of protocols/ and the recording format it plays back, nothing of the engine or the daemon.',
      severity: 'error',
      from: { path: '^simulators/' },
      to: { path: '^(agent|bench|test)/|^rules/(?!recording/)' },
    },
    {
      name: 'console-reaches-no-plc',
      comment: 'the web console reads the central store and writes only response records: no protocol client, no MQTT link, no agent stage, no simulator (npm packages are outside this check).',
      severity: 'error',
      from: { path: '^agent/central/console/' },
      to: { path: '^(protocols/(modbus|opcua)/|simulators/|agent/(forward|outbox|broker|scheduler|runtime|judge|central/(link|ingest)))' },
    },
    {
      name: 'no-circular',
      comment: 'a cycle makes the load order matter and hides which module is below which.',
      severity: 'error',
      from: {},
      // type-only imports vanish at compile time, so a cycle through one has no load order
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that resolves to nothing would fail at run time.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
