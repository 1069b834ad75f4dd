/**
 * Compile-once CEL programs over @bufbuild/cel with Flux's environment
 * (fluxcd/pkg runtime/cel `NewExpression`): standard library, strings / sets / encoders
 * extensions, cross-type numeric comparisons, UTC as the default time zone.
 *
 * Two modes, as in Flux:
 * - declared variables (`variables: ['res', 'req']`, cel-go `WithCompile` +
 *   `WithStructVariables`): identifiers are checked, the result type can be enforced;
 * - parse only (no `variables`): for health checks, whose variables are the top-level
 *   fields of whatever object is evaluated.
 * Programs are cached by expression and options, so a Receiver filter or a health check
 * compiled on every request or poll is parsed once.
 */
import { celEnv, isCelError, parse, plan } from '@bufbuild/cel';
import type { CelEnv, CelInput, CelResult, CelValue } from '@bufbuild/cel';
import { CheckIssue, checkExpression, positionOf } from './checker.js';
import type { StaticType } from './checker.js';
import { CelEvaluationError, CelExpressionError } from './errors.js';
import type { CelPosition } from './errors.js';
import { EXTENSION_FUNCTIONS } from './functions.js';
import { registerCel } from './load.js';
import { fromCelValue, toCelInput } from './values.js';
import type { NumberMode } from './values.js';

/** Options of compileCel; part of the cache key. */
export interface CompileOptions {
  /**
   * Variables the expression may use (google.protobuf.Struct values, as Flux declares
   * them). Omit to parse only: then any identifier is allowed and resolved when evaluating.
   */
  variables?: readonly string[];
  /** Refuse at compile time an expression whose static type is not bool (needs `variables`). */
  outputType?: 'bool';
  /**
   * How numbers in bound values are typed: `struct` (default with `variables`) makes every
   * number a double like structpb; `unstructured` (default without) makes whole numbers
   * int like a Kubernetes object decoded by apimachinery.
   */
  numbers?: NumberMode;
  /**
   * Check functions, overloads and `has()` before evaluating (default true). false
   * evaluates exactly what cel-go's parse-only mode would, errors included, at run time.
   */
  staticCheck?: boolean;
}

type ParsedExpr = ReturnType<typeof parse>;
type Evaluator = (ctx: Record<string, CelInput>) => CelResult;

let sharedEnv: CelEnv | undefined;

/** The environment every Fluxless expression runs in. */
export function fluxCelEnv(): CelEnv {
  sharedEnv ??= celEnv({ funcs: [...EXTENSION_FUNCTIONS] });
  return sharedEnv;
}

/** A compiled expression; evaluate it as often as needed. */
export class CelProgram {
  /** Static result type from the check (`dyn` when only known at run time). */
  readonly outputType: StaticType;
  private readonly numbers: NumberMode;

  /** @internal use compileCel. */
  constructor(
    readonly expression: string,
    readonly variables: readonly string[] | undefined,
    outputType: StaticType,
    numbers: NumberMode,
    private readonly parsed: ParsedExpr,
    private readonly run: Evaluator,
  ) {
    this.outputType = outputType;
    this.numbers = numbers;
  }

  /**
   * Evaluate with the given variables (JSON-like values) and return the result as plain
   * JavaScript (see fromCelValue). Throws CelEvaluationError with the position of the
   * failing sub-expression.
   */
  evaluate(vars: Readonly<Record<string, unknown>>): unknown {
    return fromCelValue(this.evaluateValue(vars));
  }

  /** Evaluate and require a bool result (Flux's EvaluateBoolean). */
  evaluateBoolean(vars: Readonly<Record<string, unknown>>): boolean {
    const v = this.evaluateValue(vars);
    if (typeof v !== 'boolean') {
      throw new CelEvaluationError(this.expression, `the result must be a bool, got ${describe(v)}`);
    }
    return v;
  }

  /** Evaluate and return the result as @bufbuild/cel's value (bigint int, CelUint, CelList, CelMap, ...). */
  evaluateValue(vars: Readonly<Record<string, unknown>>): CelValue {
    // A prototype-less activation: `toString` or `constructor` are not variables.
    const ctx = Object.create(null) as Record<string, CelInput>;
    for (const [name, value] of Object.entries(vars)) {
      if (value === undefined) continue;
      try {
        ctx[name] = toCelInput(value, this.numbers);
      } catch (err) {
        throw new CelEvaluationError(this.expression, `variable '${name}': ${(err as Error).message}`);
      }
    }
    let result: CelResult;
    try {
      result = this.run(ctx);
    } catch (err) {
      throw new CelEvaluationError(this.expression, (err as Error).message ?? String(err), undefined, { cause: err });
    }
    if (isCelError(result)) {
      throw new CelEvaluationError(this.expression, result.message, this.positionOf(result.exprId));
    }
    return result;
  }

  private positionOf(id: bigint | undefined): CelPosition | undefined {
    if (id === undefined) return undefined;
    const offset = this.parsed.sourceInfo?.positions[id.toString()];
    return positionOf(this.expression, offset);
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return 'double';
  if (typeof v === 'object') {
    const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object';
    if (/list/i.test(name)) return 'list';
    if (/map/i.test(name)) return 'map';
    return name;
  }
  return typeof v;
}

const CACHE_MAX = 4096;
const cache = new Map<string, CelProgram | CelExpressionError>();

/**
 * Compile `expression` (cached by expression and options). Throws CelExpressionError with
 * the expression and the line:column of the problem for a syntax error, an undeclared
 * variable or function, or (with `outputType`) a result of the wrong type.
 */
export function compileCel(expression: string, opts: CompileOptions = {}): CelProgram {
  const numbers: NumberMode = opts.numbers ?? (opts.variables ? 'struct' : 'unstructured');
  const key = `${opts.variables?.join(',') ?? '*'}|${opts.outputType ?? ''}|${numbers}|${opts.staticCheck === false ? 'u' : 'c'}|${expression}`;
  const hit = cache.get(key);
  if (hit !== undefined) {
    // Refresh its place in the LRU order.
    cache.delete(key);
    cache.set(key, hit);
    if (hit instanceof CelExpressionError) throw hit;
    return hit;
  }
  let out: CelProgram | CelExpressionError;
  try {
    out = build(expression, opts, numbers);
  } catch (err) {
    if (!(err instanceof CelExpressionError)) throw err;
    out = err;
  }
  cache.set(key, out);
  if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value as string);
  if (out instanceof CelExpressionError) throw out;
  return out;
}

function build(expression: string, opts: CompileOptions, numbers: NumberMode): CelProgram {
  if (opts.outputType !== undefined && opts.variables === undefined) {
    throw new TypeError('compileCel: outputType needs declared variables (as in cel-go, only a compiled expression has a type)');
  }
  if (expression.trim() === '') throw new CelExpressionError(expression, 'the expression is empty');
  let parsed: ParsedExpr;
  try {
    parsed = parse(expression);
  } catch (err) {
    throw parseError(expression, err);
  }
  const env = fluxCelEnv();
  let type: StaticType = 'dyn';
  if (opts.staticCheck !== false) try {
    const declared = opts.variables ? new Set(opts.variables) : undefined;
    type = checkExpression(env, parsed.expr, { variables: declared });
  } catch (err) {
    if (err instanceof CheckIssue) {
      const offset = parsed.sourceInfo?.positions[err.exprId.toString()];
      throw new CelExpressionError(expression, err.message, positionOf(expression, offset));
    }
    throw err;
  }
  if (opts.outputType !== undefined && type !== opts.outputType) {
    throw new CelExpressionError(expression, `the result type must be ${opts.outputType}, got ${type}`, undefined, {
      hint: type === 'dyn' ? 'Compare the field with a value, e.g. req.flag == true, or convert it, e.g. bool(req.flag).' : undefined,
    });
  }
  let run: Evaluator;
  try {
    run = plan(env, parsed) as Evaluator;
  } catch (err) {
    throw new CelExpressionError(expression, (err as Error).message ?? String(err));
  }
  return new CelProgram(expression, opts.variables ? [...opts.variables] : undefined, type, numbers, parsed, run);
}

interface PeggyLocation {
  start?: { line?: number; column?: number };
}

function parseError(expression: string, err: unknown): CelExpressionError {
  const e = err as { message?: string; location?: PeggyLocation; found?: string | null; expected?: unknown };
  const loc = e.location?.start;
  const position = loc?.line !== undefined && loc.column !== undefined ? { line: loc.line, column: loc.column } : undefined;
  // "<input>:1:3: found + but expecting ..." -> "found + but expecting ..."
  const reason = (e.message ?? String(err)).replace(/^<input>:\d+:\d+:\s*/, '');
  return new CelExpressionError(expression, `syntax error: ${reason}`, position, { cause: err });
}

/** Compile a boolean expression over declared Struct variables (Receiver filters, readyExpr, OIDC validations). */
export function compileCelBoolean(expression: string, variables: readonly string[]): CelProgram {
  return compileCel(expression, { variables, outputType: 'bool' });
}

registerCel({ compileCel, compileCelBoolean, toCelInput });
