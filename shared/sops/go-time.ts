/**
 * Timestamps as Go's `time` package parses and prints them, for the parts of the SOPS format
 * that depend on it: `lastmodified` is the MAC's additional data after `time.Parse(RFC3339)`
 * and `Format(RFC3339)`; YAML timestamps (go-yaml's formats) and `type:time` values enter the
 * MAC as `time.Time.MarshalText` (RFC 3339 with trimmed nanoseconds).
 */

interface Parts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** Up to 9 fractional digits as written (truncated like Go). */
  fraction: string;
  /** Offset in minutes east of UTC. */
  offset: number;
}

function daysIn(month: number, year: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function valid(p: Parts): boolean {
  return (
    p.month >= 1 && p.month <= 12 && p.day >= 1 && p.day <= daysIn(p.month, p.year) &&
    p.hour <= 23 && p.minute <= 59 && p.second <= 59 && Math.abs(p.offset) < 24 * 60 + 60
  );
}

function zone(text: string | undefined): number | undefined {
  if (text === undefined) return 0;
  if (text === 'Z') return 0;
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(text);
  if (!m) return undefined;
  const hh = Number(m[2]);
  const mm = Number(m[3]);
  if (hh > 24 || mm > 59) return undefined;
  return (m[1] === '-' ? -1 : 1) * (hh * 60 + mm);
}

function build(m: RegExpExecArray, fracIdx: number, zoneIdx: number | undefined): Parts | undefined {
  const offset = zone(zoneIdx === undefined ? undefined : m[zoneIdx]);
  if (offset === undefined) return undefined;
  const p: Parts = {
    year: Number(m[1]), month: Number(m[2]), day: Number(m[3]),
    hour: Number(m[4] ?? 0), minute: Number(m[5] ?? 0), second: Number(m[6] ?? 0),
    fraction: (m[fracIdx] ?? '').slice(0, 9), offset,
  };
  return valid(p) ? p : undefined;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

function zoneText(offset: number): string {
  if (offset === 0) return 'Z';
  const a = Math.abs(offset);
  return `${offset < 0 ? '-' : '+'}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

function formatParts(p: Parts, nanos: boolean): string {
  let s = `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`;
  if (nanos) {
    const frac = p.fraction.replace(/0+$/, '');
    if (frac !== '') s += '.' + frac;
  }
  return s + zoneText(p.offset);
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

/** Go `time.Parse(time.RFC3339, s).Format(time.RFC3339)`; undefined when Go would not parse it. */
export function normalizeRfc3339(s: string): string | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const p = build(m, 7, 8);
  return p ? formatParts(p, false) : undefined;
}

/** Go `time.Time.UnmarshalText` then `MarshalText` (a `type:time` value); undefined on error. */
export function canonicalTimeText(s: string): string | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const p = build(m, 7, 8);
  return p ? formatParts(p, true) : undefined;
}

const YAML_FORMATS: { re: RegExp; frac: number; zone?: number }[] = [
  // "2006-1-2T15:4:5.999999999Z07:00" and the same with a lower-case "t".
  { re: /^(\d{4})-(\d{1,2})-(\d{1,2})[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/, frac: 7, zone: 8 },
  // "2006-1-2 15:4:5.999999999" (UTC).
  { re: /^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d+))?$/, frac: 7 },
  // "2006-1-2" (midnight UTC).
  { re: /^(\d{4})-(\d{1,2})-(\d{1,2})$/, frac: 4 },
];

/**
 * go-yaml v3's timestamp resolution of a plain scalar: its `MarshalText` form, or undefined
 * when the text is not one of go-yaml's timestamp formats.
 */
export function yamlTimestamp(s: string): string | undefined {
  if (!/^\d{4}-/.test(s)) return undefined;
  for (const f of YAML_FORMATS) {
    const m = f.re.exec(s);
    if (!m) continue;
    const p = build(m, f.frac, f.zone);
    if (p) return formatParts(p, true);
  }
  return undefined;
}
