/** Fluxless CEL: compile-once programs over @bufbuild/cel with Flux's environment, health checks, readyExpr. */
export { CelEvaluationError, CelExpressionError, quoteExpression } from './errors.js';
export type { CelPosition } from './errors.js';
export { CelProgram, compileCel, compileCelBoolean, fluxCelEnv } from './expression.js';
export type { CompileOptions } from './expression.js';
export { HealthCheckEvaluator, HealthCheckSet } from './health.js';
export type { HealthCheckExpression, HealthResult, HealthStatus } from './health.js';
export { ReadyExpression } from './ready.js';
export { MAX_VALUE_DEPTH, fromCelValue, toCelInput } from './values.js';
export type { NumberMode } from './values.js';
export { EXTENSION_FUNCTIONS, celEquals } from './functions.js';
