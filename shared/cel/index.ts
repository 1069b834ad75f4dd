/** Fluxless CEL: compile-once programs over @bufbuild/cel with Flux's environment, health checks, readyExpr. */
export { CelEvaluationError, CelExpressionError, quoteExpression } from './errors.js';
/** Where in an expression a CEL error occurred. */
export type { CelPosition } from './errors.js';
export { CelProgram, compileCel, compileCelBoolean, fluxCelEnv } from './expression.js';
/** Options of compileCel. */
export type { CompileOptions } from './expression.js';
export { HealthCheckEvaluator, HealthCheckSet } from './health.js';
/** Types of spec.healthCheckExprs: one entry, the statuses it can decide, and its result. */
export type { HealthCheckExpression, HealthResult, HealthStatus } from './health.js';
export { ReadyExpression } from './ready.js';
export { MAX_VALUE_DEPTH, fromCelValue, toCelInput } from './values.js';
/** How JSON numbers are typed (int or double) when values go into CEL. */
export type { NumberMode } from './values.js';
export { EXTENSION_FUNCTIONS, celEquals } from './functions.js';
