/**
 * Receiver CEL filters (notification-controller receiver_resource_filter.go): the
 * top-level `spec.resourceFilter` and each `spec.resources[].filter` are ANDed per target
 * object. Variables: `res` = the object's metadata-only form (`apiVersion`, `kind`,
 * `metadata`), `req` = the request body parsed as JSON when the Content-Type is
 * application/json (else `{}`; gcr: the unwrapped Pub/Sub data), and for generic-oidc
 * `claims` = the verified token claims. The body is converted once and shared by every
 * evaluation of a request.
 */
import { cel } from '../cel/load.js';
import type { CelProgram } from '../cel/expression.js';
import { FILTER_VARIABLES } from './spec.js';
import type { ReceiverSpec } from './spec.js';

/** What `res` holds: the object as a PartialObjectMetadata. */
export interface FilterResource {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [field: string]: unknown;
  };
}

/** The compiled filters of one Receiver. */
export interface ReceiverFilters {
  top: CelProgram | undefined;
  /** Aligned with spec.resources. */
  perResource: ReadonlyArray<CelProgram | undefined>;
}

/** Compile a Receiver's filters (cached by expression), or undefined when it has none. */
export function compileReceiverFilters(spec: ReceiverSpec): ReceiverFilters | undefined {
  const vars = spec.type === 'generic-oidc' ? [...FILTER_VARIABLES, 'claims'] : [...FILTER_VARIABLES];
  const top = spec.resourceFilter ? cel().compileCelBoolean(spec.resourceFilter, vars) : undefined;
  const perResource = spec.resources.map((r) => (r.filter ? cel().compileCelBoolean(r.filter, vars) : undefined));
  if (top === undefined && perResource.every((p) => p === undefined)) return undefined;
  return { top, perResource };
}

/**
 * The per-object decision for one request: `accept(targetIndex, res)` is true when every
 * filter that applies to `spec.resources[targetIndex]` accepts `res`. Throws
 * CelEvaluationError when a filter fails to evaluate (Flux answers 500).
 */
export function filterDecision(
  filters: ReceiverFilters,
  req: Record<string, unknown>,
  claims: Record<string, unknown> | undefined,
): (targetIndex: number, res: FilterResource) => boolean {
  const base: Record<string, unknown> = { req: cel().toCelInput(req, 'struct') };
  if (claims !== undefined) base.claims = cel().toCelInput(claims, 'struct');
  return (targetIndex, res) => {
    const vars = { ...base, res };
    if (filters.top && !filters.top.evaluateBoolean(vars)) return false;
    const own = filters.perResource[targetIndex];
    return own === undefined || own.evaluateBoolean(vars);
  };
}
