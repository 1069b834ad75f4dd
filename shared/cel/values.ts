/**
 * JSON values into CEL and CEL results back into plain JavaScript.
 *
 * Flux hands CEL two kinds of objects, and numbers behave differently in each:
 * - `struct`: variables declared as google.protobuf.Struct (Receiver filters, readyExpr,
 *   OIDC claims). Every number is a double, as in structpb.
 * - `unstructured`: a Kubernetes object as decoded by apimachinery (health checks).
 *   Whole numbers are int64, others double, so `status.replicas + 1` works.
 * Objects become Maps (no prototype lookups, `__proto__` is an ordinary key).
 */
import { isCelList, isCelMap, isCelType, isCelUint } from '@bufbuild/cel';
import type { CelInput, CelValue } from '@bufbuild/cel';

/**
 * How JSON numbers are typed in CEL; see the module comment. `native` binds JavaScript
 * values as @bufbuild/cel types them: bigint is int, number is double.
 */
export type NumberMode = 'struct' | 'unstructured' | 'native';

type CelIn = CelInput;

/** Containers this module built, per mode: passed through as they are. */
const converted: Record<NumberMode, WeakSet<object>> = { struct: new WeakSet(), unstructured: new WeakSet(), native: new WeakSet() };

/**
 * Convert a JSON-like value (objects, arrays, strings, numbers, booleans, null) for binding
 * to a CEL variable. The result may be bound again as is (it is not converted twice), so
 * a caller evaluating many expressions over one object converts it once.
 */
export function toCelInput(value: unknown, mode: NumberMode): CelIn {
  return convert(value, mode, 0);
}

/** Deeper values are refused (a 3 MiB webhook body could otherwise exhaust the stack). */
export const MAX_VALUE_DEPTH = 512;

function convert(value: unknown, mode: NumberMode, depth: number): CelIn {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return mode === 'unstructured' && Number.isSafeInteger(value) ? BigInt(value) : value;
    case 'bigint':
      return mode === 'struct' ? Number(value) : value;
    case 'undefined':
      return null;
    case 'object':
      break;
    default:
      throw new TypeError(`a ${typeof value} cannot be a CEL value`);
  }
  if (value === null) return null;
  if (value instanceof Uint8Array || isCelList(value) || isCelMap(value) || isCelUint(value) || isCelType(value)) {
    return value as CelIn;
  }
  if (converted[mode].has(value)) return value as CelIn;
  if (value instanceof Date) return value.toISOString();
  if (depth >= MAX_VALUE_DEPTH) throw new RangeError(`the value is nested deeper than ${MAX_VALUE_DEPTH} levels`);
  let out: CelIn & object;
  if (Array.isArray(value)) {
    out = value.map((v) => convert(v, mode, depth + 1));
  } else {
    const m = new Map<string, CelIn>();
    const src = value instanceof Map ? value.entries() : Object.entries(value as Record<string, unknown>);
    for (const [k, v] of src) {
      if (v === undefined) continue;
      m.set(String(k), convert(v, mode, depth + 1));
    }
    out = m;
  }
  converted[mode].add(out);
  return out;
}

/** Timestamp / Duration messages as cel-es returns them (ReflectMessage over a WKT). */
interface ReflectLike {
  desc?: { typeName?: string };
  message?: { seconds?: bigint; nanos?: number };
}

/**
 * A CEL result as plain JavaScript: int/uint become numbers when exact (else bigint),
 * lists arrays, maps objects (keys as strings), timestamps RFC 3339 strings, durations
 * `"<seconds>s"` (protobuf JSON), bytes a Uint8Array, types their name.
 */
export function fromCelValue(value: CelValue): unknown {
  switch (typeof value) {
    case 'bigint':
      return bigToJs(value);
    case 'string':
    case 'boolean':
    case 'number':
      return value;
    default:
      break;
  }
  if (value === null || value instanceof Uint8Array) return value;
  if (isCelUint(value)) return bigToJs(value.value);
  if (isCelList(value)) {
    const out: unknown[] = [];
    for (const v of value) out.push(fromCelValue(v));
    return out;
  }
  if (isCelMap(value)) {
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const [k, v] of value) {
      const key = typeof k === 'object' ? String(k.value) : String(k);
      out[key] = fromCelValue(v);
    }
    return { ...out };
  }
  if (isCelType(value)) return value.name;
  const r = value as unknown as ReflectLike;
  const typeName = r.desc?.typeName;
  if (typeName === 'google.protobuf.Timestamp' && r.message) {
    const ms = Number(r.message.seconds ?? 0n) * 1000 + Math.floor((r.message.nanos ?? 0) / 1e6);
    return new Date(ms).toISOString();
  }
  if (typeName === 'google.protobuf.Duration' && r.message) {
    const secs = Number(r.message.seconds ?? 0n) + (r.message.nanos ?? 0) / 1e9;
    return `${secs}s`;
  }
  return String(value);
}

function bigToJs(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}
