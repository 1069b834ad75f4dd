/**
 * `dependsOn[].readyExpr` (Kustomization 2.7, HelmRelease): a CEL bool over `self` (the
 * object that depends) and `dep` (the dependency), both Struct values as in
 * kustomize-controller's evalReadyExpr. Compile errors are terminal (Flux: Stalled,
 * `InvalidCELExpression`).
 */
import { CelExpressionError } from './errors.js';
import { compileCelBoolean } from './expression.js';
import type { CelProgram } from './expression.js';

/** A compiled readyExpr. */
export class ReadyExpression {
  private constructor(private readonly program: CelProgram) {}

  /** Compile (cached); `field` names the entry in errors, e.g. `spec.dependsOn[0].readyExpr`. */
  static compile(expression: string, field = 'dependsOn[].readyExpr'): ReadyExpression {
    try {
      return new ReadyExpression(compileCelBoolean(expression, ['self', 'dep']));
    } catch (err) {
      throw err instanceof CelExpressionError ? err.withContext(field) : err;
    }
  }

  /** The expression text. */
  get expression(): string {
    return this.program.expression;
  }

  /** Whether `dep` is ready for `self`. Throws CelEvaluationError (e.g. a missing field). */
  isReady(self: Readonly<Record<string, unknown>>, dep: Readonly<Record<string, unknown>>): boolean {
    return this.program.evaluateBoolean({ self, dep });
  }
}
