/**
 * The functions commit message templates may call: Go text/template's builtins (and, or,
 * not, len, index, slice, print, printf, println, eq, ne, lt, le, gt, ge, html, js, urlquery)
 * and the Sprig hermetic functions Flux users reach for (strings, lists, dicts, math,
 * defaults, regular expressions, encodings). A function outside this set is a parse error
 * (`function "x" not defined`), as in Go for an unknown name.
 *
 * Arguments are thunks so `and` / `or` can stop early, as Go 1.18+ does. A piped value is
 * the last argument, as in Go.
 */
import { createHash } from 'node:crypto';
import { expandGoTemplate, GoRegexp } from '../util/go-regexp.js';
import { GoMap, GoStruct, NO_VALUE, formatValue, indirectTypeName, isTrue, type GoValue } from './go-values.js';

type Thunk = () => GoValue;
type Fn = (args: Thunk[]) => GoValue;

function vals(args: Thunk[]): GoValue[] {
  return args.map((a) => a());
}

function str(v: GoValue): string {
  return v === null || v === NO_VALUE ? '' : formatValue(v);
}

function num(v: GoValue, fn: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && /^[-+]?\d+(\.\d+)?$/.test(v.trim())) return Number(v);
  if (v === null || v === NO_VALUE) return 0;
  throw new Error(`${fn}: cannot use ${indirectTypeName(v)} as a number`);
}

function list(v: GoValue, fn: string): GoValue[] {
  if (Array.isArray(v)) return v;
  if (v === null || v === NO_VALUE) return [];
  throw new Error(`${fn}: cannot find a list in ${indirectTypeName(v)}`);
}

function arity(fn: string, args: Thunk[], min: number, max = min): void {
  if (args.length < min || args.length > max) {
    throw new Error(`wrong number of args for ${fn}: want ${min === max ? min : `${min} to ${max}`} got ${args.length}`);
  }
}

function fixed(fn: string, n: number, f: (...v: GoValue[]) => GoValue): Fn {
  return (args) => {
    arity(fn, args, n);
    return f(...vals(args));
  };
}

function strFn(fn: string, f: (...s: string[]) => GoValue, n = 1): Fn {
  return fixed(fn, n, (...v) => f(...v.map(str)));
}

function basicEqual(a: GoValue, b: GoValue): boolean {
  if (a === NO_VALUE) a = null;
  if (b === NO_VALUE) b = null;
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (typeof a !== typeof b) {
    if (a === null || b === null) return a === b;
    throw new Error(`incompatible types for comparison`);
  }
  if (typeof a === 'object' && a !== null) throw new Error(`non-comparable type ${indirectTypeName(a)}`);
  return a === b;
}

function compare(fn: string, a: GoValue, b: GoValue): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new Error(`${fn}: incompatible types for comparison`);
}

/** Go's fmt.Sprintf for the verbs templates use: %s %v %d %q %t %f %x %X %%, with width and precision. */
export function sprintf(format: string, args: GoValue[]): string {
  let i = 0;
  // The width starts with 1-9: the flags take every '0' (as greedy `[-+# 0]*` then `\d+` did,
  // without backtracking over how a run of zeros is split between them: quadratic).
  return format.replace(/%([-+# 0]*)([1-9]\d*)?(?:\.(\d+))?([a-zA-Z%])/g, (_m, flags: string, width: string | undefined, prec: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    if (i >= args.length) return `%!${verb}(MISSING)`;
    const a = args[i++];
    let s: string;
    switch (verb) {
      case 'v':
      case 's':
        s = formatValue(a);
        if (prec !== undefined) s = [...s].slice(0, Number(prec)).join('');
        break;
      case 'q':
        s = JSON.stringify(formatValue(a));
        break;
      case 'd':
        s = typeof a === 'number' ? String(Math.trunc(a)) : `%!d(${indirectTypeName(a)}=${formatValue(a)})`;
        break;
      case 't':
        s = typeof a === 'boolean' ? String(a) : `%!t(${indirectTypeName(a)}=${formatValue(a)})`;
        break;
      case 'f':
        s = typeof a === 'number' ? a.toFixed(prec === undefined ? 6 : Number(prec)) : `%!f(${indirectTypeName(a)}=${formatValue(a)})`;
        break;
      case 'x':
      case 'X': {
        const t = typeof a === 'number' ? Math.trunc(a).toString(16) : Buffer.from(formatValue(a)).toString('hex');
        s = verb === 'X' ? t.toUpperCase() : t;
        break;
      }
      default:
        s = `%!${verb}(${indirectTypeName(a)}=${formatValue(a)})`;
    }
    if (width !== undefined && s.length < Number(width)) {
      const pad = (flags.includes('0') && !flags.includes('-') ? '0' : ' ').repeat(Number(width) - s.length);
      s = flags.includes('-') ? s + pad : pad + s;
    }
    return s;
  }) + (i < args.length ? `%!(EXTRA ${args.slice(i).map((a) => `${indirectTypeName(a)}=${formatValue(a)}`).join(', ')})` : '');
}

/** fmt.Sprint: spaces between operands when neither side is a string. */
function sprint(args: GoValue[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(a);
  });
  return out;
}

function goTitle(s: string): string {
  return s.replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, sep: string, c: string) => sep + c.toUpperCase());
}

function words(s: string): string[] {
  return s
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
}

function goQuote(s: string): string {
  return JSON.stringify(s);
}

function dictOf(v: GoValue, fn: string): GoMap {
  if (v instanceof GoMap) return v;
  throw new Error(`${fn}: cannot use ${indirectTypeName(v)} as a dict`);
}

function toJson(v: GoValue): unknown {
  if (v === NO_VALUE) return null;
  if (Array.isArray(v)) return v.map(toJson);
  if (v instanceof GoMap) return Object.fromEntries(v.sortedEntries().map(([k, x]) => [formatValue(k), toJson(x)]));
  if (v instanceof GoStruct) return Object.fromEntries(Object.entries(v.fields).map(([k, x]) => [k, toJson(x)]));
  return v;
}

function regexp(pattern: string, fn: string): GoRegexp {
  try {
    return GoRegexp.compile(pattern);
  } catch (err) {
    // Go's message already starts with "error parsing regexp: ".
    throw new Error(`${fn}: ${(err as Error).message}`);
  }
}

const FUNCS: Record<string, Fn> = {
  // ---- text/template builtins
  and: (args) => {
    if (args.length < 1) throw new Error('wrong number of args for and: want at least 1 got 0');
    let v: GoValue = null;
    for (const a of args) {
      v = a();
      if (!isTrue(v)) return v;
    }
    return v;
  },
  or: (args) => {
    if (args.length < 1) throw new Error('wrong number of args for or: want at least 1 got 0');
    let v: GoValue = null;
    for (const a of args) {
      v = a();
      if (isTrue(v)) return v;
    }
    return v;
  },
  not: fixed('not', 1, (v) => !isTrue(v)),
  len: fixed('len', 1, (v) => {
    if (typeof v === 'string') return Buffer.byteLength(v);
    if (Array.isArray(v)) return v.length;
    if (v instanceof GoMap) return v.size;
    throw new Error(`len of type ${indirectTypeName(v)}`);
  }),
  index: (args) => {
    if (args.length < 1) throw new Error('wrong number of args for index: want at least 1 got 0');
    const [first, ...keys] = vals(args);
    let cur = first;
    for (const k of keys) {
      if (Array.isArray(cur)) {
        const i = num(k, 'index');
        if (!Number.isInteger(i) || i < 0 || i >= cur.length) throw new Error(`index out of range: ${formatValue(k)}`);
        cur = cur[i];
      } else if (cur instanceof GoMap) cur = cur.index(k);
      else if (typeof cur === 'string') {
        const i = num(k, 'index');
        const b = Buffer.from(cur);
        if (i < 0 || i >= b.length) throw new Error(`index out of range: ${i}`);
        cur = b[i];
      } else throw new Error(`can't index item of type ${indirectTypeName(cur)}`);
    }
    return cur;
  },
  slice: (args) => {
    const [v, ...idx] = vals(args);
    const n = idx.map((x) => num(x, 'slice'));
    if (typeof v === 'string') return v.slice(n[0] ?? 0, n[1] ?? v.length);
    if (Array.isArray(v)) return v.slice(n[0] ?? 0, n[1] ?? v.length);
    throw new Error(`can't slice item of type ${indirectTypeName(v)}`);
  },
  print: (args) => sprint(vals(args)),
  println: (args) => vals(args).map(formatValue).join(' ') + '\n',
  printf: (args) => {
    if (args.length < 1) throw new Error('wrong number of args for printf: want at least 1 got 0');
    const [f, ...rest] = vals(args);
    return sprintf(str(f), rest);
  },
  eq: (args) => {
    if (args.length < 2) throw new Error('missing argument for comparison');
    const [a, ...bs] = vals(args);
    return bs.some((b) => basicEqual(a, b));
  },
  ne: fixed('ne', 2, (a, b) => !basicEqual(a, b)),
  lt: fixed('lt', 2, (a, b) => compare('lt', a, b) < 0),
  le: fixed('le', 2, (a, b) => compare('le', a, b) <= 0),
  gt: fixed('gt', 2, (a, b) => compare('gt', a, b) > 0),
  ge: fixed('ge', 2, (a, b) => compare('ge', a, b) >= 0),
  html: (args) => sprint(vals(args)).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' })[c]!),
  js: (args) => sprint(vals(args)).replace(/[\\'"<>&=\n\r\t]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}`),
  urlquery: (args) => encodeURIComponent(sprint(vals(args))).replace(/%20/g, '+'),

  // ---- Sprig: strings
  upper: strFn('upper', (s) => s.toUpperCase()),
  lower: strFn('lower', (s) => s.toLowerCase()),
  title: strFn('title', goTitle),
  untitle: strFn('untitle', (s) => s.replace(/(^|\s)(\S)/g, (_m, sep: string, c: string) => sep + c.toLowerCase())),
  trim: strFn('trim', (s) => s.trim()),
  trimAll: strFn('trimAll', (cut, s) => {
    const set = new Set([...cut]);
    const a = [...s];
    let i = 0;
    let j = a.length;
    while (i < j && set.has(a[i])) i++;
    while (j > i && set.has(a[j - 1])) j--;
    return a.slice(i, j).join('');
  }, 2),
  trimPrefix: strFn('trimPrefix', (p, s) => (s.startsWith(p) ? s.slice(p.length) : s), 2),
  trimSuffix: strFn('trimSuffix', (p, s) => (p && s.endsWith(p) ? s.slice(0, -p.length) : s), 2),
  replace: strFn('replace', (o, n, s) => s.split(o).join(n), 3),
  contains: strFn('contains', (sub, s) => s.includes(sub), 2),
  hasPrefix: strFn('hasPrefix', (p, s) => s.startsWith(p), 2),
  hasSuffix: strFn('hasSuffix', (p, s) => s.endsWith(p), 2),
  repeat: fixed('repeat', 2, (n, s) => str(s).repeat(Math.max(0, num(n, 'repeat')))),
  substr: fixed('substr', 3, (a, b, s) => {
    const t = str(s);
    let start = num(a, 'substr');
    let end = num(b, 'substr');
    if (start < 0) start = 0;
    if (end < 0 || end > t.length) end = t.length;
    return start > end ? '' : t.slice(start, end);
  }),
  trunc: fixed('trunc', 2, (n, s) => {
    const t = str(s);
    const c = num(n, 'trunc');
    if (c < 0) return -c < t.length ? t.slice(t.length + c) : t;
    return c < t.length ? t.slice(0, c) : t;
  }),
  abbrev: fixed('abbrev', 2, (n, s) => {
    const t = str(s);
    const w = num(n, 'abbrev');
    if (w < 4 || t.length <= w) return t;
    return t.slice(0, w - 3) + '...';
  }),
  nospace: strFn('nospace', (s) => s.replace(/\s+/g, '')),
  initials: strFn('initials', (s) => s.split(/\s+/).filter(Boolean).map((w) => w[0]).join('')),
  snakecase: strFn('snakecase', (s) => words(s).map((w) => w.toLowerCase()).join('_')),
  kebabcase: strFn('kebabcase', (s) => words(s).map((w) => w.toLowerCase()).join('-')),
  camelcase: strFn('camelcase', (s) => words(s).map((w) => w[0].toUpperCase() + w.slice(1).toLowerCase()).join('')),
  quote: (args) => vals(args).filter((v) => v !== null && v !== NO_VALUE).map((v) => goQuote(str(v))).join(' '),
  squote: (args) => vals(args).filter((v) => v !== null && v !== NO_VALUE).map((v) => `'${str(v)}'`).join(' '),
  cat: (args) => vals(args).filter((v) => v !== null && v !== NO_VALUE).map(str).join(' '),
  indent: fixed('indent', 2, (n, s) => {
    const pad = ' '.repeat(Math.max(0, num(n, 'indent')));
    return pad + str(s).replaceAll('\n', '\n' + pad);
  }),
  nindent: fixed('nindent', 2, (n, s) => {
    const pad = ' '.repeat(Math.max(0, num(n, 'nindent')));
    return '\n' + pad + str(s).replaceAll('\n', '\n' + pad);
  }),
  plural: fixed('plural', 3, (one, many, n) => (num(n, 'plural') === 1 ? str(one) : str(many))),
  toString: fixed('toString', 1, (v) => str(v)),
  join: fixed('join', 2, (sep, l) => (typeof l === 'string' ? l : list(l, 'join').map(str).join(str(sep)))),
  splitList: strFn('splitList', (sep, s) => s.split(sep), 2),
  split: strFn('split', (sep, s) => new GoMap(s.split(sep).map((p, i) => [`_${i}`, p] as [GoValue, GoValue]), 'map[string]string', true, ''), 2),
  splitn: fixed('splitn', 3, (sep, n, s) => {
    const parts = str(s).split(str(sep));
    const c = num(n, 'splitn');
    const out = c > 0 && parts.length > c ? [...parts.slice(0, c - 1), parts.slice(c - 1).join(str(sep))] : parts;
    return new GoMap(out.map((p, i) => [`_${i}`, p] as [GoValue, GoValue]), 'map[string]string', true, '');
  }),
  sortAlpha: fixed('sortAlpha', 1, (l) => list(l, 'sortAlpha').map(str).sort()),

  // ---- Sprig: defaults and flow
  default: fixed('default', 2, (d, given) => (isTrue(given) ? given : d)),
  empty: fixed('empty', 1, (v) => !isTrue(v)),
  coalesce: (args) => vals(args).find(isTrue) ?? null,
  ternary: fixed('ternary', 3, (t, f, c) => (isTrue(c) ? t : f)),
  fail: fixed('fail', 1, (m) => {
    throw new Error(str(m));
  }),

  // ---- Sprig: lists and dicts
  list: (args) => vals(args),
  first: fixed('first', 1, (l) => list(l, 'first')[0] ?? null),
  last: fixed('last', 1, (l) => list(l, 'last').at(-1) ?? null),
  rest: fixed('rest', 1, (l) => list(l, 'rest').slice(1)),
  initial: fixed('initial', 1, (l) => list(l, 'initial').slice(0, -1)),
  reverse: fixed('reverse', 1, (l) => [...list(l, 'reverse')].reverse()),
  uniq: fixed('uniq', 1, (l) => {
    const out: GoValue[] = [];
    for (const v of list(l, 'uniq')) if (!out.some((x) => formatValue(x) === formatValue(v) && typeof x === typeof v)) out.push(v);
    return out;
  }),
  compact: fixed('compact', 1, (l) => list(l, 'compact').filter(isTrue)),
  has: fixed('has', 2, (needle, l) => list(l, 'has').some((v) => typeof v === typeof needle && formatValue(v) === formatValue(needle))),
  without: (args) => {
    const [l, ...drop] = vals(args);
    return list(l, 'without').filter((v) => !drop.some((d) => typeof d === typeof v && formatValue(d) === formatValue(v)));
  },
  append: fixed('append', 2, (l, v) => [...list(l, 'append'), v]),
  prepend: fixed('prepend', 2, (l, v) => [v, ...list(l, 'prepend')]),
  concat: (args) => vals(args).flatMap((l) => list(l, 'concat')),
  dict: (args) => {
    const v = vals(args);
    const entries: Array<[GoValue, GoValue]> = [];
    for (let i = 0; i < v.length; i += 2) entries.push([str(v[i]), i + 1 < v.length ? v[i + 1] : '']);
    return new GoMap(entries, 'map[string]interface {}', true, null);
  },
  get: fixed('get', 2, (d, k) => {
    const x = dictOf(d, 'get').get(str(k));
    return x === NO_VALUE ? '' : x;
  }),
  hasKey: fixed('hasKey', 2, (d, k) => dictOf(d, 'hasKey').get(str(k)) !== NO_VALUE),
  keys: (args) => vals(args).flatMap((d) => dictOf(d, 'keys').sortedEntries().map(([k]) => k)),
  values: fixed('values', 1, (d) => dictOf(d, 'values').sortedEntries().map(([, v]) => v)),

  // ---- Sprig: math and conversions
  add: (args) => vals(args).reduce<number>((a, b) => a + Math.trunc(num(b, 'add')), 0),
  add1: fixed('add1', 1, (a) => Math.trunc(num(a, 'add1')) + 1),
  sub: fixed('sub', 2, (a, b) => Math.trunc(num(a, 'sub')) - Math.trunc(num(b, 'sub'))),
  mul: (args) => vals(args).reduce<number>((a, b) => a * Math.trunc(num(b, 'mul')), 1),
  div: fixed('div', 2, (a, b) => {
    const d = Math.trunc(num(b, 'div'));
    if (d === 0) throw new Error('integer divide by zero');
    return Math.trunc(Math.trunc(num(a, 'div')) / d);
  }),
  mod: fixed('mod', 2, (a, b) => {
    const d = Math.trunc(num(b, 'mod'));
    if (d === 0) throw new Error('integer divide by zero');
    return Math.trunc(num(a, 'mod')) % d;
  }),
  max: (args) => Math.max(...vals(args).map((v) => Math.trunc(num(v, 'max')))),
  min: (args) => Math.min(...vals(args).map((v) => Math.trunc(num(v, 'min')))),
  atoi: fixed('atoi', 1, (s) => (/^[-+]?\d+$/.test(str(s).trim()) ? Number(str(s).trim()) : 0)),
  int: fixed('int', 1, (v) => (typeof v === 'string' ? (/^[-+]?\d+/.test(v) ? parseInt(v, 10) : 0) : Math.trunc(num(v, 'int')))),
  int64: fixed('int64', 1, (v) => (typeof v === 'string' ? (/^[-+]?\d+/.test(v) ? parseInt(v, 10) : 0) : Math.trunc(num(v, 'int64')))),
  float64: fixed('float64', 1, (v) => (typeof v === 'string' ? Number(v) || 0 : num(v, 'float64'))),
  toJson: fixed('toJson', 1, (v) => JSON.stringify(toJson(v)) ?? 'null'),
  toRawJson: fixed('toRawJson', 1, (v) => JSON.stringify(toJson(v)) ?? 'null'),
  toPrettyJson: fixed('toPrettyJson', 1, (v) => JSON.stringify(toJson(v), null, 2) ?? 'null'),
  b64enc: strFn('b64enc', (s) => Buffer.from(s).toString('base64')),
  b64dec: strFn('b64dec', (s) => Buffer.from(s, 'base64').toString('utf8')),
  sha1sum: strFn('sha1sum', (s) => createHash('sha1').update(s).digest('hex')),
  sha256sum: strFn('sha256sum', (s) => createHash('sha256').update(s).digest('hex')),

  // ---- Sprig: regular expressions (Go RE2 syntax as users write it)
  regexMatch: strFn('regexMatch', (re, s) => regexp(re, 'regexMatch').test(s), 2),
  regexFind: strFn('regexFind', (re, s) => regexp(re, 'regexFind').exec(s)?.[0] ?? '', 2),
  regexFindAll: fixed('regexFindAll', 3, (re, s, n) => regexp(str(re), 'regexFindAll').findAll(str(s), num(n, 'regexFindAll')).map((m) => m[0] ?? '')),
  regexReplaceAll: strFn('regexReplaceAll', (re, s, repl) => regexp(re, 'regexReplaceAll').replaceAll(s, (m) => expandGoTemplate(repl, m)), 3),
  regexReplaceAllLiteral: strFn('regexReplaceAllLiteral', (re, s, repl) => regexp(re, 'regexReplaceAllLiteral').replaceAll(s, () => repl), 3),
  regexSplit: fixed('regexSplit', 3, (re, s, n) => regexp(str(re), 'regexSplit').split(str(s), num(n, 'regexSplit'))),
};

/** True when templates may call `name`. */
export function isFunction(name: string): boolean {
  return Object.hasOwn(FUNCS, name);
}

/** Calls a template function; throws Error with Go-like messages. */
export function callFunction(name: string, args: Thunk[]): GoValue {
  const f = FUNCS[name];
  if (!f) throw new Error(`function "${name}" not defined`);
  return f(args);
}

/** The names templates may call (for documentation and errors). */
export function templateFunctionNames(): string[] {
  return Object.keys(FUNCS).sort();
}

