/**
 * Kustomization (and HelmRelease) `healthCheckExprs`, evaluated as Flux does
 * (fluxcd/pkg runtime/cel status_reader.go and status_evaluator.go, RFC 0009):
 * - an entry covers an API group (`apiVersion`'s group; the version is ignored) and a
 *   kind, or every kind of the group when `kind` is empty (2.9); a kind entry beats a
 *   group entry; two entries for the same group/kind are an error;
 * - the expressions are parsed only (not type-checked against a schema: not every CRD has
 *   the usual top-level fields), and their variables are the object's top-level fields
 *   (`metadata`, `spec`, `status`, ...), numbers typed like apimachinery's unstructured;
 * - per object: `status.observedGeneration` (an integer) different from
 *   `metadata.generation` is InProgress; else `inProgress`, `failed`, `current` in that
 *   order, the first true wins; none true is InProgress.
 */
import { ValidationError } from '../util/errors.js';
import { CelExpressionError } from './errors.js';
import { compileCel } from './expression.js';
import type { CelProgram } from './expression.js';
import { toCelInput } from './values.js';

/** One `spec.healthCheckExprs[]` entry. */
export interface HealthCheckExpression {
  apiVersion: string;
  /** Empty or absent: every kind of the group. */
  kind?: string;
  current: string;
  inProgress?: string;
  failed?: string;
}

/** kstatus statuses a health expression can decide. */
export type HealthStatus = 'Current' | 'InProgress' | 'Failed';

/** The outcome for one object; `reason` says which rule decided. */
export interface HealthResult {
  status: HealthStatus;
  reason: 'generation' | 'inProgress' | 'failed' | 'current' | 'none';
}

/** The compiled expressions of one entry. */
export class HealthCheckEvaluator {
  constructor(
    private readonly current: CelProgram,
    private readonly failed: CelProgram | undefined,
    private readonly inProgress: CelProgram | undefined,
  ) {}

  /** Compile one entry's expressions; `field` names it in errors (e.g. `spec.healthCheckExprs[0]`). */
  static compile(e: Pick<HealthCheckExpression, 'current' | 'failed' | 'inProgress'>, field = 'healthCheckExprs[]'): HealthCheckEvaluator {
    if (typeof e.current !== 'string' || e.current.trim() === '') {
      throw new ValidationError(`${field}.current: the expression is required (it decides when the object is Current)`);
    }
    const one = (name: 'current' | 'failed' | 'inProgress', expr: string | undefined): CelProgram | undefined => {
      if (expr === undefined || expr === '') return undefined;
      try {
        return compileCel(expr, { numbers: 'unstructured' });
      } catch (err) {
        throw err instanceof CelExpressionError ? err.withContext(`${field}.${name}`) : err;
      }
    };
    return new HealthCheckEvaluator(one('current', e.current) as CelProgram, one('failed', e.failed), one('inProgress', e.inProgress));
  }

  /** Evaluate for one object (as read from the API server). Throws CelEvaluationError. */
  evaluate(obj: Readonly<Record<string, unknown>>): HealthResult {
    const status = obj.status as Record<string, unknown> | undefined;
    const meta = obj.metadata as Record<string, unknown> | undefined;
    const observed = status?.observedGeneration;
    const generation = meta?.generation;
    if (Number.isInteger(observed) && Number.isInteger(generation) && observed !== generation) {
      return { status: 'InProgress', reason: 'generation' };
    }
    // Convert once for up to three expressions.
    const vars: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) vars[k] = toCelInput(v, 'unstructured');
    const rules: Array<[CelProgram | undefined, HealthStatus, HealthResult['reason']]> = [
      [this.inProgress, 'InProgress', 'inProgress'],
      [this.failed, 'Failed', 'failed'],
      [this.current, 'Current', 'current'],
    ];
    for (const [prog, st, reason] of rules) {
      if (prog && prog.evaluateBoolean(vars)) return { status: st, reason };
    }
    return { status: 'InProgress', reason: 'none' };
  }
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** All entries of one object's `healthCheckExprs`, matched by group and kind. */
export class HealthCheckSet {
  private constructor(private readonly byGroupKind: ReadonlyMap<string, HealthCheckEvaluator>) {}

  /**
   * Compile every entry (throws ValidationError / CelExpressionError naming the entry, e.g.
   * `spec.healthCheckExprs[1].failed`); `field` is the list's path in the spec.
   */
  static compile(entries: readonly HealthCheckExpression[], field = 'spec.healthCheckExprs'): HealthCheckSet {
    const map = new Map<string, HealthCheckEvaluator>();
    entries.forEach((e, i) => {
      const at = `${field}[${i}]`;
      if (typeof e.apiVersion !== 'string' || e.apiVersion === '') throw new ValidationError(`${at}.apiVersion is required`);
      const key = `${groupOf(e.apiVersion)}/${e.kind ?? ''}`;
      if (map.has(key)) {
        const gk = e.kind ? `${e.kind}${groupOf(e.apiVersion) ? '.' + groupOf(e.apiVersion) : ''}` : `group ${groupOf(e.apiVersion) || '(core)'}`;
        throw new ValidationError(`${at}: duplicate custom health check for ${gk}`, {
          hint: 'Merge the two entries: one entry per apiVersion group and kind (or one without kind for the whole group).',
        });
      }
      map.set(key, HealthCheckEvaluator.compile(e, at));
    });
    return new HealthCheckSet(map);
  }

  /** Number of entries. */
  get size(): number {
    return this.byGroupKind.size;
  }

  /** The evaluator for an object's apiVersion and kind: its kind entry, else its group entry. */
  evaluatorFor(apiVersion: string, kind: string): HealthCheckEvaluator | undefined {
    const group = groupOf(apiVersion);
    return this.byGroupKind.get(`${group}/${kind}`) ?? this.byGroupKind.get(`${group}/`);
  }

  /** Whether an entry covers this apiVersion/kind (else the built-in kstatus rules apply). */
  supports(apiVersion: string, kind: string): boolean {
    return this.evaluatorFor(apiVersion, kind) !== undefined;
  }

  /** Evaluate an object with its entry; undefined when no entry covers it. */
  evaluate(obj: Readonly<Record<string, unknown>>): HealthResult | undefined {
    const ev = this.evaluatorFor(String(obj.apiVersion ?? ''), String(obj.kind ?? ''));
    return ev?.evaluate(obj);
  }
}
