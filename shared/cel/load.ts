/**
 * CEL on first use. @bufbuild/cel and its protobuf runtime are a quarter of a megabyte that
 * a Lambda function would parse at every cold start, while most Receivers, Providers and
 * Alerts have no expression at all. The modules that compile expressions while parsing a
 * spec (receivers/spec.ts, notify/spec.ts) call `cel()`, which throws CelNotLoadedError until
 * expression.ts has been evaluated; their async callers run the parse in `withCel`, which
 * loads CEL and parses again only when an expression was met. Any module that loads
 * expression.ts statically (the Kustomization and HelmRelease health checks) loads it too.
 */
import type { CelProgram, CompileOptions } from './expression.js';
import type { NumberMode } from './values.js';

/** What the lazily loaded CEL modules provide to the spec parsers and evaluators. */
export interface CelApi {
  /** See expression.ts compileCel. */
  compileCel(expression: string, opts?: CompileOptions): CelProgram;
  /** See expression.ts compileCelBoolean. */
  compileCelBoolean(expression: string, variables: readonly string[]): CelProgram;
  /** See values.ts toCelInput. */
  toCelInput(v: unknown, mode: NumberMode): unknown;
}

let api: CelApi | undefined;

/** Thrown by `cel()` before CEL is loaded: a caller forgot `withCel` / `loadCel` (a Fluxless bug). */
export class CelNotLoadedError extends Error {
  constructor() {
    super('CEL is not loaded yet: the caller must run this in withCel() or await loadCel() first');
    this.name = 'CelNotLoadedError';
  }
}

/** Called once by expression.ts when it is evaluated. */
export function registerCel(a: CelApi): void {
  api = a;
}

/** The CEL API; throws CelNotLoadedError before it is loaded. */
export function cel(): CelApi {
  if (!api) throw new CelNotLoadedError();
  return api;
}

/** Loads CEL (once per process) and returns its API. */
export async function loadCel(): Promise<CelApi> {
  if (!api) await import('./expression.js');
  return cel();
}

/**
 * Runs `fn` (a pure parse) and, when it met an expression before CEL was loaded, loads CEL
 * and runs it again. Other errors pass through unchanged.
 */
export async function withCel<T>(fn: () => T): Promise<T> {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof CelNotLoadedError)) throw err;
    await loadCel();
    return fn();
  }
}
