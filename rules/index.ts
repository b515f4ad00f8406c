// Public surface of the rules package: engine, validation, registry and types.
export { RuleEngine, numericValue } from './engine.js';
export { RULE_FAILED, ruleFailureFinding, type RuleFailure } from './failures.js';
export { validateRules, compileRules, ruleSchemaFor, RuleConfigError } from './validate.js';
export { DETECTOR_TYPES, detectorType, detectorTypeNames } from './registry.js';
export { ruleBaseSchema, type RuleConfig } from './schema.js';
export { ExprError, parseExpr } from './expr/parse.js';
export { compileExpr } from './expr/compile.js';
export type { DetectorType } from './detector.js';
export type { Detector, DeviceRef, Finding, FindingSink, ResolvedRule, RuleIssue } from './types.js';
