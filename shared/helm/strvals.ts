/**
 * Helm's `--set` syntax (helm.sh/helm/v4/pkg/strvals), as Flux uses it for
 * `valuesFrom[].targetPath`: `a.b[0].c=value`, `\` escapes, `{x,y}` lists, typed values
 * (`true`, `false`, `null`, integers not starting with 0) unless parsing as strings.
 */

/** A `--set` line could not be parsed (Helm's message). */
export class StrvalsError extends Error {}

/** Helm's limits (strvals.MaxIndex, strvals.MaxNestedNameLevel). */
export const MAX_INDEX = 65536;
export const MAX_NESTED_NAME_LEVEL = 30;

type Values = Record<string, unknown>;

class Scanner {
  private pos = 0;
  private readonly chars: string[];
  constructor(s: string) {
    this.chars = Array.from(s);
  }
  read(): string | undefined {
    return this.pos < this.chars.length ? this.chars[this.pos++] : undefined;
  }
  unread(): void {
    this.pos--;
  }
}

interface Until {
  runes: string;
  last: string | undefined;
  eof: boolean;
}

function runesUntil(sc: Scanner, stop: string): Until {
  let v = '';
  for (;;) {
    const r = sc.read();
    if (r === undefined) return { runes: v, last: undefined, eof: true };
    if (stop.includes(r)) return { runes: v, last: r, eof: false };
    if (r === '\\') {
      const next = sc.read();
      if (next === undefined) return { runes: v, last: undefined, eof: true };
      v += next;
    } else {
      v += r;
    }
  }
}

/** Helm's typedVal: booleans, null and integers (not starting with 0) unless forced to string. */
function typedVal(val: string, forceString: boolean): unknown {
  if (forceString) return val;
  const lower = val.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  if (lower === 'null') return null;
  if (val === '0') return 0;
  if (val.length > 0 && val[0] !== '0' && /^[+-]?[0-9]+$/.test(val)) {
    const n = BigInt(val);
    if (n >= -(1n << 63n) && n < 1n << 63n) return Number(n);
  }
  return val;
}

function goType(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (Array.isArray(v)) return '[]interface {}';
  if (typeof v === 'object') return 'map[string]interface {}';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int64' : 'float64';
  return typeof v;
}

/** Go's panic text for a failed type assertion on `v`. */
function convMsg(v: unknown): string {
  return v === null || v === undefined ? 'interface is nil' : `interface {} is ${goType(v)}`;
}

function isMap(v: unknown): v is Values {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Parser {
  constructor(
    private readonly sc: Scanner,
    private readonly data: Values,
    private readonly forceString: boolean,
  ) {}

  parse(): void {
    for (;;) {
      const r = this.key(this.data, 0);
      if (r === 'eof') return;
    }
  }

  private reader(rs: string): unknown {
    return typedVal(rs, this.forceString);
  }

  /** Returns 'eof' at the end of input, 'more' when another key follows. */
  private key(data: Values, level: number): 'eof' | 'more' {
    const { runes: k, last, eof } = runesUntil(this.sc, '=[,.');
    if (eof) {
      if (k.length === 0) return 'eof';
      throw new StrvalsError(`key ${JSON.stringify(k)} has no value`);
    }
    switch (last) {
      case '[': {
        const i = this.keyIndex();
        if (i === undefined) return 'eof';
        let list: unknown[] = [];
        if (k in data) {
          const existing = data[k];
          if (!Array.isArray(existing)) {
            throw new StrvalsError(`unable to parse key: interface conversion: ${convMsg(existing)}, not []interface {}`);
          }
          list = existing;
        }
        const res = this.listItem(list, i, level);
        set(data, k, res.list);
        return res.done;
      }
      case '=': {
        const vl = this.valList();
        if (vl.kind === 'list') {
          set(data, k, vl.list);
          return 'more';
        }
        if (vl.kind === 'eof') {
          set(data, k, '');
          return 'eof';
        }
        const { runes } = runesUntil(this.sc, ',');
        set(data, k, this.reader(runes));
        return 'more';
      }
      case ',':
        set(data, k, '');
        throw new StrvalsError(`key ${JSON.stringify(k)} has no value (cannot end with ,)`);
      default: {
        // '.'
        level++;
        if (level > MAX_NESTED_NAME_LEVEL) {
          throw new StrvalsError(`value name nested level is greater than maximum supported nested level of ${MAX_NESTED_NAME_LEVEL}`);
        }
        let inner: Values = {};
        if (k in data) {
          const existing = data[k];
          if (!isMap(existing)) {
            throw new StrvalsError(`unable to parse key: interface conversion: ${convMsg(existing)}, not map[string]interface {}`);
          }
          inner = existing;
        }
        const r = this.key(inner, level);
        if (r === 'more' && Object.keys(inner).length === 0) throw new StrvalsError(`key map ${JSON.stringify(k)} has no value`);
        if (Object.keys(inner).length !== 0) set(data, k, inner);
        return r;
      }
    }
  }

  /** The index inside `[...]`; undefined at the end of input (Helm wraps io.EOF, which ends parsing quietly). */
  private keyIndex(): number | undefined {
    const { runes, eof } = runesUntil(this.sc, ']');
    if (eof) return undefined;
    if (!/^[+-]?[0-9]+$/.test(runes)) {
      throw new StrvalsError(`error parsing index: strconv.Atoi: parsing ${JSON.stringify(runes)}: invalid syntax`);
    }
    return Number(runes);
  }

  private listItem(list: unknown[], i: number, level: number): { list: unknown[]; done: 'eof' | 'more' } {
    if (i < 0) throw new StrvalsError(`negative ${i} index not allowed`);
    const { runes: k, last, eof } = runesUntil(this.sc, '[.=');
    if (k.length > 0) throw new StrvalsError(`unexpected data at end of array index: ${JSON.stringify(k)}`);
    // Helm returns io.EOF here, which ends parsing without an error.
    if (eof) return { list, done: 'eof' };
    switch (last) {
      case '=': {
        const vl = this.valList();
        if (vl.kind === 'list') return { list: setIndex(list, i, vl.list), done: 'more' };
        if (vl.kind === 'eof') return { list: setIndex(list, i, ''), done: 'eof' };
        const { runes } = runesUntil(this.sc, ',');
        return { list: setIndex(list, i, this.reader(runes)), done: 'more' };
      }
      case '[': {
        const nextI = this.keyIndex();
        if (nextI === undefined) return { list, done: 'eof' };
        let current: unknown[] = [];
        if (list.length > i && list[i] !== null && list[i] !== undefined) {
          if (!Array.isArray(list[i])) {
            throw new StrvalsError(`unable to parse key: interface conversion: ${convMsg(list[i])}, not []interface {}`);
          }
          current = list[i] as unknown[];
        }
        const res = this.listItem(current, nextI, level);
        return { list: setIndex(list, i, res.list), done: res.done };
      }
      default: {
        // '.'
        let inner: Values = {};
        if (list.length > i) {
          if (isMap(list[i])) inner = list[i] as Values;
          else list[i] = inner;
        }
        const r = this.key(inner, level);
        return { list: setIndex(list, i, inner), done: r };
      }
    }
  }

  private valList(): { kind: 'list'; list: unknown[] } | { kind: 'notList' } | { kind: 'eof' } {
    const r = this.sc.read();
    if (r === undefined) return { kind: 'eof' };
    if (r !== '{') {
      this.sc.unread();
      return { kind: 'notList' };
    }
    const list: unknown[] = [];
    for (;;) {
      const { runes, last, eof } = runesUntil(this.sc, ',}');
      if (eof) throw new StrvalsError("list must terminate with '}'");
      if (last === '}') {
        const next = this.sc.read();
        if (next !== undefined && next !== ',') this.sc.unread();
        list.push(this.reader(runes));
        return { kind: 'list', list };
      }
      list.push(this.reader(runes));
    }
  }
}

function set(data: Values, key: string, val: unknown): void {
  if (key.length === 0) return;
  data[key] = val;
}

function setIndex(list: unknown[], index: number, val: unknown): unknown[] {
  if (index < 0) throw new StrvalsError(`negative ${index} index not allowed`);
  if (index > MAX_INDEX) throw new StrvalsError(`index of ${index} is greater than maximum supported index of ${MAX_INDEX}`);
  while (list.length <= index) list.push(null);
  list[index] = val;
  return list;
}

/** strvals.ParseInto: parses `line` and merges the result into `dest` (mutated). */
export function parseInto(line: string, dest: Values): void {
  new Parser(new Scanner(line), dest, false).parse();
}

/** strvals.ParseIntoString: like parseInto, but every value is a string. */
export function parseIntoString(line: string, dest: Values): void {
  new Parser(new Scanner(line), dest, true).parse();
}

/**
 * Flux's ReplacePathValue: sets `value` at `path` in `values` (mutated). A value wrapped in
 * single or double quotes is unquoted and kept a string; anything else is typed as `--set` does.
 */
export function replacePathValue(values: Values, path: string, value: string): void {
  const single = value.startsWith("'") && value.endsWith("'");
  const double = value.startsWith('"') && value.endsWith('"');
  if (single || double) {
    parseIntoString(`${path}=${trimQuotes(value)}`, values);
    return;
  }
  parseInto(`${path}=${value}`, values);
}

/** Go strings.Trim(value, `'"`): strips every leading and trailing quote character. */
function trimQuotes(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s[a] === '"' || s[a] === "'")) a++;
  while (b > a && (s[b - 1] === '"' || s[b - 1] === "'")) b--;
  return s.slice(a, b);
}

/**
 * Flux's ReplacePathLiteralValue (`valuesFrom[].literal`): the value is kept verbatim as a
 * string (commas, brackets, braces and backslashes included); `\.` still escapes in the path.
 */
export function replacePathLiteralValue(values: Values, path: string, value: string): void {
  const escaped = value.replace(/[\\,[\]{}]/g, (c) => `\\${c}`);
  parseIntoString(`${path}=${escaped}`, values);
}
