/**
 * Number and boolean text exactly as Go's strconv writes and reads it, because the SOPS MAC
 * hashes values in their Go text form (`strconv.FormatFloat(f, 'f', -1, 64)`, `True`/`False`)
 * and decrypted `int`/`float`/`bool` values are parsed with Atoi / ParseFloat / ParseBool.
 */

const MAX_INT64 = (1n << 63n) - 1n;
const MIN_INT64 = -(1n << 63n);

/** Shortest round-trip digits and decimal exponent of a finite non-zero |f|: f = 0.d1d2... × 10^dp. */
function shortestDigits(f: number): { digits: string; dp: number } {
  const [mant, exp] = Math.abs(f).toExponential().split('e');
  const digits = mant.replace('.', '');
  return { digits, dp: Number(exp) + 1 };
}

/** Go `strconv.FormatFloat(f, 'f', -1, 64)`. */
export function formatFloatF(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  const sign = f < 0 || Object.is(f, -0) ? '-' : '';
  if (f === 0) return `${sign}0`;
  const { digits, dp } = shortestDigits(f);
  let out: string;
  if (dp <= 0) out = '0.' + '0'.repeat(-dp) + digits;
  else if (dp >= digits.length) out = digits + '0'.repeat(dp - digits.length);
  else out = digits.slice(0, dp) + '.' + digits.slice(dp);
  return sign + out;
}

/** Go `strconv.FormatFloat(f, 'e', -1, 64)`. */
export function formatFloatE(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  const sign = f < 0 || Object.is(f, -0) ? '-' : '';
  if (f === 0) return `${sign}0e+00`;
  const { digits, dp } = shortestDigits(f);
  const exp = dp - 1;
  const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp) < 10 ? `0${Math.abs(exp)}` : String(Math.abs(exp));
  return `${sign}${mant}e${exp < 0 ? '-' : '+'}${e}`;
}

/** Go `strconv.FormatFloat(f, 'g', -1, 64)` (what go-yaml writes for a float). */
export function formatFloatG(f: number): string {
  if (!Number.isFinite(f)) return formatFloatF(f);
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const exp = shortestDigits(f).dp - 1;
  // Go: with the shortest precision, %e is used when the exponent is < -4 or >= 6.
  return exp < -4 || exp >= 6 ? formatFloatE(f) : formatFloatF(f);
}

/** Go `encoding/json`'s float64 text. */
export function formatFloatJSON(f: number): string {
  const abs = Math.abs(f);
  if (abs !== 0 && (abs < 1e-6 || abs >= 1e21)) {
    return formatFloatE(f).replace(/e-0(\d)$/, 'e-$1');
  }
  return formatFloatF(f);
}

/** Go `strconv.FormatFloat(v, 'G', -1, 64)` with sops's "at least one decimal" rule (stores.ValToString). */
export function formatFloatForText(f: number): string {
  let s = formatFloatG(f).toUpperCase();
  if (s === '+INF') s = '+Inf';
  else if (s === '-INF') s = '-Inf';
  else if (s === 'NAN') s = 'NaN';
  if (!s.includes('.') && !s.includes('E') && Number.isFinite(f)) {
    s = f.toFixed(1);
  }
  return s;
}

/** Go `strconv.ParseBool`. Undefined when the text is not a boolean. */
export function parseGoBool(s: string): boolean | undefined {
  switch (s) {
    case '1': case 't': case 'T': case 'TRUE': case 'true': case 'True':
      return true;
    case '0': case 'f': case 'F': case 'FALSE': case 'false': case 'False':
      return false;
    default:
      return undefined;
  }
}

/** Go `strconv.Atoi` (base 10, int64 range). Undefined when it does not parse. */
export function parseGoAtoi(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const v = BigInt(s);
  return v > MAX_INT64 || v < MIN_INT64 ? undefined : v;
}

/**
 * Go `strconv.ParseInt(s, 0, 64)`: sign, then `0x`/`0o`/`0b`/leading-`0` octal or decimal,
 * with Go's underscore rules (only after a base prefix or between digits). Undefined on error.
 */
export function parseGoIntBase0(s: string, unsigned = false): bigint | undefined {
  let rest = s;
  let neg = false;
  if (rest.startsWith('+') || rest.startsWith('-')) {
    if (unsigned) return undefined;
    neg = rest[0] === '-';
    rest = rest.slice(1);
  }
  if (rest === '') return undefined;
  let base = 10;
  let digits = rest;
  let prefixed = false;
  const lower = rest.toLowerCase();
  if (lower.startsWith('0x')) { base = 16; digits = rest.slice(2); prefixed = true; }
  else if (lower.startsWith('0o')) { base = 8; digits = rest.slice(2); prefixed = true; }
  else if (lower.startsWith('0b')) { base = 2; digits = rest.slice(2); prefixed = true; }
  else if (rest.length > 1 && rest[0] === '0') { base = 8; digits = rest.slice(1); prefixed = true; }
  if (digits.includes('_')) {
    // Go: underscores only with base 0, each between digits or after the prefix.
    const check = (prefixed ? '0' : '') + digits;
    if (!/^[0-9a-zA-Z]+(_[0-9a-zA-Z]+)*$/.test(check.replace(/^0_/, '0'))) return undefined;
    digits = digits.replace(/_/g, '');
  }
  if (digits === '') return undefined;
  const valid = base === 16 ? /^[0-9a-fA-F]+$/ : base === 8 ? /^[0-7]+$/ : base === 2 ? /^[01]+$/ : /^[0-9]+$/;
  if (!valid.test(digits)) return undefined;
  const prefix = base === 16 ? '0x' : base === 8 ? '0o' : base === 2 ? '0b' : '';
  let v = BigInt(prefix + digits);
  if (neg) v = -v;
  if (unsigned) return v > (1n << 64n) - 1n ? undefined : v;
  return v > MAX_INT64 || v < MIN_INT64 ? undefined : v;
}

/**
 * Go `strconv.ParseFloat(s, 64)` for decimal text (and inf/nan words). Undefined when it does
 * not parse or overflows (Go returns ErrRange there; callers treat that as "not a float").
 */
export function parseGoFloat(s: string): number | undefined {
  const word = s.toLowerCase().replace(/^[+-]/, '');
  if (word === 'inf' || word === 'infinity') return s.startsWith('-') ? -Infinity : Infinity;
  if (word === 'nan') return s.startsWith('+') || s.startsWith('-') ? undefined : NaN;
  if (!/^[+-]?([0-9]+(_[0-9]+)*(\.([0-9]+(_[0-9]+)*)?)?|\.[0-9]+(_[0-9]+)*)([eE][+-]?[0-9]+(_[0-9]+)*)?$/.test(s)) {
    if (/^[+-]?0[xX]/.test(s)) return parseHexFloat(s);
    return undefined;
  }
  if (s.includes('_')) return undefined; // Go allows underscores only with a base prefix.
  const v = Number(s);
  if (!Number.isFinite(v)) return undefined;
  return v;
}

function parseHexFloat(s: string): number | undefined {
  const m = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?[0-9]+)$/.exec(s);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const int = m[2] === '' ? 0 : parseInt(m[2], 16);
  const frac = m[3] ? parseInt(m[3], 16) / 16 ** m[3].length : 0;
  const v = (int + frac) * 2 ** Number(m[4]);
  if (!Number.isFinite(v)) return undefined;
  return m[1] === '-' ? -v : v;
}

/** True when a bigint fits Go's int64. */
export function fitsInt64(v: bigint): boolean {
  return v <= MAX_INT64 && v >= MIN_INT64;
}
