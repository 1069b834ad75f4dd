/** Go duration strings (`1h30m`, `5m`, `30s`, `500ms`) as Flux's API uses them. */
import { ValidationError } from './errors.js';

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go duration (`1h30m`, `5m`, `30s`, `500ms`) to milliseconds; throws a ValidationError naming `field`. */
export function parseDuration(value: string, field = 'duration'): number {
  const s = value.trim();
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) {
    total += parseFloat(m[1]) * UNITS[m[2]];
    pos = re.lastIndex;
  }
  if (pos !== s.length || s.length === 0) {
    throw new ValidationError(`${field}: invalid duration '${value}' (use Go syntax such as 30s, 5m, 1h30m)`);
  }
  return Math.round(total);
}

/**
 * Formats a duration like Go's time.Duration.String(), which Flux uses in messages such as
 * `health check failed after 34.971383ms` or `after 10m0.038239667s`.
 */
export function formatGoDuration(ms: number): string {
  let ns = Math.round(ms * 1e6);
  const neg = ns < 0;
  if (neg) ns = -ns;
  if (ns === 0) return '0s';
  // Fraction of `v` with `prec` digits, trailing zeros (and a bare '.') dropped.
  const frac = (v: number, prec: number): [string, number] => {
    const p = 10 ** prec;
    const digits = String(v % p).padStart(prec, '0').replace(/0+$/, '');
    return [digits ? `.${digits}` : '', Math.floor(v / p)];
  };
  let out: string;
  if (ns < 1e9) {
    const [unit, prec] = ns < 1e3 ? ['ns', 0] : ns < 1e6 ? ['µs', 3] : ['ms', 6];
    const [f, whole] = frac(ns, prec);
    out = `${whole}${f}${unit}`;
  } else {
    const [f, secsTotal] = frac(ns, 9);
    const secs = secsTotal % 60;
    const minsTotal = Math.floor(secsTotal / 60);
    out = `${secs}${f}s`;
    if (minsTotal > 0) {
      out = `${minsTotal % 60}m${out}`;
      const hours = Math.floor(minsTotal / 60);
      if (hours > 0) out = `${hours}h${out}`;
    }
  }
  return neg ? `-${out}` : out;
}
