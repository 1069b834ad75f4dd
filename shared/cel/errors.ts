/**
 * Errors of the CEL module. Both carry the expression and, where the library tells us, the
 * position (1-based line:column) of the offending part, so a status message points at it.
 */
import { FluxlessError, ValidationError } from '../util/errors.js';

/** Where in an expression something went wrong (1-based, like cel-go's `<input>:L:C`). */
export interface CelPosition {
  line: number;
  column: number;
}

const MAX_SHOWN = 240;

/** The expression as quoted in messages: single-line, and elided past 240 characters. */
export function quoteExpression(expression: string): string {
  // Each run of whitespace holding a line break becomes one space (as /\s*\n\s*/g, which is
  // quadratic on a long run of spaces without a line break).
  const flat = expression.replace(/\s+/g, (ws) => (ws.includes('\n') ? ' ' : ws));
  const shown = flat.length > MAX_SHOWN ? `${flat.slice(0, MAX_SHOWN - 1)}…` : flat;
  return `"${shown}"`;
}

function at(pos: CelPosition | undefined): string {
  return pos ? ` at ${pos.line}:${pos.column}` : '';
}

/** Options of the CEL errors: `context` names where the expression comes from (e.g. `spec.resourceFilter`). */
export interface CelErrorOptions {
  cause?: unknown;
  hint?: string;
  context?: string;
}

function prefix(context: string | undefined): string {
  return context ? `${context}: ` : '';
}

/**
 * An expression that does not parse or type-check (Flux's `InvalidCELExpression`): a
 * syntax error, an undeclared variable or function, or a result of the wrong type. It is
 * a ValidationError (bad input, not retryable) with code `InvalidCELExpression`.
 */
export class CelExpressionError extends ValidationError {
  readonly expression: string;
  readonly position: CelPosition | undefined;
  /** The reason alone, without the expression and position. */
  readonly reason: string;
  constructor(expression: string, reason: string, position?: CelPosition, options: CelErrorOptions = {}) {
    super(`${prefix(options.context)}invalid CEL expression ${quoteExpression(expression)}${at(position)}: ${reason}`, options);
    (this as { code: string }).code = 'InvalidCELExpression';
    this.expression = expression;
    this.position = position;
    this.reason = reason;
  }

  /** The same error, with `context` (a field path) in front of the message. */
  withContext(context: string): CelExpressionError {
    return new CelExpressionError(this.expression, this.reason, this.position, { cause: this, hint: this.hint, context });
  }
}

/** An expression that compiled but failed while evaluating (a missing field, a type mismatch at run time). */
export class CelEvaluationError extends FluxlessError {
  readonly expression: string;
  readonly position: CelPosition | undefined;
  readonly reason: string;
  constructor(expression: string, reason: string, position?: CelPosition, options: CelErrorOptions = {}) {
    super('CELEvaluationFailed', `${prefix(options.context)}failed to evaluate the CEL expression ${quoteExpression(expression)}${at(position)}: ${reason}`, options);
    this.expression = expression;
    this.position = position;
    this.reason = reason;
  }
}
