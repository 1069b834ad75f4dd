/** Go duration strings (`1h30m`, `5m`, `30s`, `500ms`) as Flux's API uses them. */
import { ValidationError } from './errors.js';

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

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

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h0m0s`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m0s`;
  return `${ms / 1000}s`;
}
