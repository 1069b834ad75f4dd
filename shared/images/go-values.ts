/**
 * Go values as the template engine (go-template.ts) sees them: strings, numbers, bools,
 * nil, slices, maps (typed, ranged in sorted key order when the keys are strings) and
 * structs (typed, with fields, niladic methods and an optional String()). Printing follows
 * fmt's `%v` as text/template uses it; truthiness follows text/template's `truth`.
 */

/** A missing value (an absent map key), printed `<no value>`. */
export const NO_VALUE: unique symbol = Symbol('no value');

/** A value a template can hold. */
export type GoValue = string | number | boolean | null | typeof NO_VALUE | GoValue[] | GoMap | GoStruct;

/** A Go map; `zero` is what `index` returns for a missing key. */
export class GoMap {
  private readonly byKey = new Map<string, [GoValue, GoValue]>();
  constructor(
    entries: Iterable<[GoValue, GoValue]>,
    readonly type: string,
    readonly stringKeys: boolean,
    readonly zero: GoValue = null,
  ) {
    for (const [k, v] of entries) this.byKey.set(keyOf(k), [k, v]);
  }
  /** The value for a string key, or NO_VALUE. */
  get(key: string): GoValue {
    const e = this.byKey.get(keyOf(key));
    return e ? e[1] : NO_VALUE;
  }
  /** The value for any key, or the element type's zero value (Go's `index`). */
  index(key: GoValue): GoValue {
    const e = this.byKey.get(keyOf(key));
    return e ? e[1] : this.zero;
  }
  get size(): number {
    return this.byKey.size;
  }
  /** Entries in Go's range order: sorted for basic keys, for other keys by their printed form (Go's order is random). */
  sortedEntries(): Array<[GoValue, GoValue]> {
    const list = [...this.byKey.values()];
    return list.sort((a, b) => compareKeys(a[0], b[0]));
  }
}

/** A Go struct value: its type name (for messages), fields, niladic methods, String(). */
export class GoStruct {
  constructor(
    readonly type: string,
    readonly fields: Record<string, GoValue>,
    readonly methods?: Record<string, () => GoValue>,
    readonly stringer?: () => string,
  ) {}
}

function keyOf(k: GoValue): string {
  return typeof k === 'string' ? `s:${k}` : `v:${formatValue(k)}`;
}

function compareKeys(a: GoValue, b: GoValue): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = typeof a === 'string' ? a : formatValue(a);
  const y = typeof b === 'string' ? b : formatValue(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Go's `%v` of a float64 or int. */
export function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'NaN' : n > 0 ? '+Inf' : '-Inf';
  const s = String(n);
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

/** The text a template prints for a value (fmt's `%v`, Stringer first). */
export function formatValue(v: GoValue): string {
  if (v === NO_VALUE) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) return `[${v.map(inner).join(' ')}]`;
  if (v instanceof GoMap) return `map[${v.sortedEntries().map(([k, x]) => `${inner(k)}:${inner(x)}`).join(' ')}]`;
  if (v.stringer) return v.stringer();
  return `{${Object.values(v.fields).map(inner).join(' ')}}`;
}

/** Inside a composite, nil prints as `<nil>` and a missing value as `<nil>` too. */
function inner(v: GoValue): string {
  return v === NO_VALUE ? '<nil>' : formatValue(v);
}

/** text/template's truth: false, 0, "", nil, empty slices and maps are false; structs are true. */
export function isTrue(v: GoValue): boolean {
  if (v === null || v === NO_VALUE) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof GoMap) return v.size > 0;
  return true;
}

/** The Go type name of a value, for messages. */
export function indirectTypeName(v: GoValue): string {
  if (v === null || v === NO_VALUE) return 'interface {}';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return '[]interface {}';
  return v.type;
}
