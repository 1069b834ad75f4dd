/**
 * Semantic versions and constraints as Helm and Flux read them: Masterminds/semver v3
 * (`NewVersion` in coercing mode, `NewConstraint`, `Check`), plus fluxcd/pkg
 * `version.ParseVersion`, which additionally requires three dot-separated parts.
 *
 * Pre-releases: a pre-release version only satisfies an OR-group of a constraint when a
 * comparator in that group carries a pre-release itself (`>=1.0.0-0`), as in Masterminds.
 * Build metadata never takes part in comparisons.
 */
import { GoRegexp } from '../util/go-regexp.js';

/** A parsed version (Masterminds `Version`). */
export interface SemVer {
  major: bigint;
  minor: bigint;
  patch: bigint;
  /** Pre-release part without the `-`, '' when none. */
  pre: string;
  /** Build metadata without the `+`, '' when none. */
  metadata: string;
  /** The string as given. */
  original: string;
}

const LOOSE = /^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?(\+([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?$/;
const NUM = /^[0-9]+$/;
const ALLOWED = /^[0-9A-Za-z-]+$/;
const MAX_UINT64 = (1n << 64n) - 1n;

/** Why a version string was rejected (Masterminds' error texts). */
export class SemverError extends Error {}

function segment(s: string): bigint {
  const n = BigInt(s);
  if (n > MAX_UINT64) throw new SemverError(`error parsing version segment: strconv.ParseUint: parsing "${s}": value out of range`);
  return n;
}

function validatePrerelease(p: string): void {
  for (const part of p.split('.')) {
    if (part === '') throw new SemverError('invalid prerelease string');
    if (NUM.test(part)) {
      if (part.length > 1 && part[0] === '0') throw new SemverError('version segment starts with 0');
    } else if (!ALLOWED.test(part)) {
      throw new SemverError('invalid prerelease string');
    }
  }
}

function validateMetadata(m: string): void {
  for (const part of m.split('.')) {
    if (part === '' || !ALLOWED.test(part)) throw new SemverError('invalid metadata string');
  }
}

/** Masterminds `NewVersion` (coercing: `1`, `1.2`, `v1.2.3` are valid). Throws SemverError. */
export function parseVersion(v: string): SemVer {
  const m = LOOSE.exec(v);
  if (!m) throw new SemverError('invalid semantic version');
  const pre = m[5] ?? '';
  const metadata = m[8] ?? '';
  const out: SemVer = {
    major: segment(m[1]),
    minor: m[2] ? segment(m[2].slice(1)) : 0n,
    patch: m[3] ? segment(m[3].slice(1)) : 0n,
    pre,
    metadata,
    original: v,
  };
  if (pre) validatePrerelease(pre);
  if (metadata) validateMetadata(metadata);
  return out;
}

/** Like parseVersion, but undefined instead of an error. */
export function tryParseVersion(v: string): SemVer | undefined {
  try {
    return parseVersion(v);
  } catch {
    return undefined;
  }
}

/** fluxcd/pkg `version.ParseVersion`: Masterminds parsing, but `major.minor.patch` must all be present. */
export function parseStrictVersion(v: string): SemVer | undefined {
  if (v.split('.').length < 3) return undefined;
  return tryParseVersion(v);
}

/** `major.minor.patch[-pre][+metadata]` (Masterminds `Version.String`: no `v` prefix). */
export function formatVersion(v: SemVer): string {
  let s = `${v.major}.${v.minor}.${v.patch}`;
  if (v.pre) s += `-${v.pre}`;
  if (v.metadata) s += `+${v.metadata}`;
  return s;
}

/** Masterminds `SetMetadata`: replaces the build metadata. Throws SemverError when it has invalid characters. */
export function withMetadata(v: SemVer, metadata: string): SemVer {
  if (metadata) validateMetadata(metadata);
  const next = { ...v, metadata };
  next.original = (v.original.startsWith('v') ? 'v' : '') + formatVersion(next);
  return next;
}

function cmpBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const UINT = /^[0-9]+$/;
function comparePrePart(s: string, o: string): number {
  if (s === o) return 0;
  if (s === '') return -1;
  if (o === '') return 1;
  const sNum = UINT.test(s) && BigInt(s) <= MAX_UINT64;
  const oNum = UINT.test(o) && BigInt(o) <= MAX_UINT64;
  if (!sNum && !oNum) return s > o ? 1 : -1;
  if (!oNum) return -1;
  if (!sNum) return 1;
  return BigInt(s) > BigInt(o) ? 1 : -1;
}

function comparePrerelease(a: string, b: string): number {
  const sp = a.split('.');
  const op = b.split('.');
  const n = Math.max(sp.length, op.length);
  for (let i = 0; i < n; i++) {
    const d = comparePrePart(sp[i] ?? '', op[i] ?? '');
    if (d !== 0) return d;
  }
  return 0;
}

/** Masterminds `Compare`: -1, 0 or 1; build metadata is ignored. */
export function compareVersions(a: SemVer, b: SemVer): number {
  const d = cmpBig(a.major, b.major) || cmpBig(a.minor, b.minor) || cmpBig(a.patch, b.patch);
  if (d) return d;
  if (!a.pre && !b.pre) return 0;
  if (!a.pre) return 1;
  if (!b.pre) return -1;
  return comparePrerelease(a.pre, b.pre);
}

// ---- constraints ----

type Op = '' | '=' | '!=' | '>' | '<' | '>=' | '=>' | '<=' | '=<' | '~' | '~>' | '^';

interface Comparator {
  op: Op;
  /** The version part as written. */
  orig: string;
  con: SemVer;
  dirty: boolean;
  minorDirty: boolean;
  patchDirty: boolean;
}

/** A parsed Masterminds constraint: OR-groups of AND-ed comparators. */
export interface Constraint {
  source: string;
  groups: Comparator[][];
  /** Per group: some comparator has a pre-release, so pre-release versions may match. */
  containsPre: boolean[];
}

const CV = String.raw`v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?`;
const CV_NOGROUPS = CV.replace(/\((?!\?)/g, '(?:');
const OPS = String.raw`=||!=|>|<|>=|=>|<=|=<|~|~>|\^`;
const CONSTRAINT_RE = new RegExp(`^\\s*(${OPS})\\s*(${CV})\\s*$`);
const RANGE_RE = GoRegexp.compile(`\\s*(${CV_NOGROUPS})\\s+-\\s+(${CV_NOGROUPS})\\s*`);
const FIND_RE = new RegExp(`(?:${OPS})\\s*(?:${CV_NOGROUPS})`, 'g');
// VALID_RE and RANGE_RE run on RE2 (linear time), as Masterminds' Go regexp: with a
// backtracking RegExp, VALID_RE took seconds on "1" + 2,500 spaces + "!" and was exponential
// in "1 , 1 , 1 ... !" (how each run of whitespace is split between adjacent `\s*`), and the
// unanchored RANGE_RE was quadratic on a long run of spaces or digits.
const VALID_RE = GoRegexp.compile(`^(?:\\s*(?:${OPS})\\s*(?:${CV_NOGROUPS})\\s*)(?:(?:\\s+|,\\s*)(?:${OPS})\\s*(?:${CV_NOGROUPS})\\s*)*$`);

function isX(s: string): boolean {
  return s === 'x' || s === 'X' || s === '*';
}

function rewriteRange(s: string): string {
  let out = '';
  let last = 0;
  for (const m of RANGE_RE.findAll(s)) {
    out += s.slice(last, m.index) + `>= ${m[1]}, <= ${m[2]} `;
    last = m.index + m[0]!.length;
  }
  return last === 0 ? s : out + s.slice(last);
}

function parseComparator(c: string): Comparator {
  const m = CONSTRAINT_RE.exec(c);
  if (!m) throw new SemverError(`improper constraint: ${JSON.stringify(c)}`);
  const op = m[1] as Op;
  const orig = m[2];
  const [p1, p2 = '', p3 = '', pre = ''] = [m[3], m[4], m[5], m[6]];
  let ver = orig;
  let dirty = false;
  let minorDirty = false;
  let patchDirty = false;
  if (isX(p1) || p1 === '') {
    ver = `0.0.0${pre}`;
    dirty = true;
  } else if (isX(p2.replace(/^\./, '')) || p2 === '') {
    minorDirty = dirty = true;
    ver = `${p1}.0.0${pre}`;
  } else if (isX(p3.replace(/^\./, '')) || p3 === '') {
    dirty = patchDirty = true;
    ver = `${p1}${p2}.0${pre}`;
  }
  let con: SemVer;
  try {
    con = parseVersion(ver);
  } catch {
    throw new SemverError('constraint parser error');
  }
  return { op, orig, con, dirty, minorDirty, patchDirty };
}

/** Masterminds `NewConstraint`. Throws SemverError (`improper constraint: "..."`). */
export function parseConstraint(source: string): Constraint {
  const rewritten = rewriteRange(source);
  const groups: Comparator[][] = [];
  const containsPre: boolean[] = [];
  for (const part of rewritten.split('||')) {
    if (!VALID_RE.test(part)) throw new SemverError(`improper constraint: ${JSON.stringify(part)}`);
    const found = part.match(FIND_RE) ?? [part];
    const group = found.map(parseComparator);
    groups.push(group);
    containsPre.push(group.some((c) => c.con.pre !== ''));
  }
  return { source, groups, containsPre };
}

/** Like parseConstraint, returning the error message instead of throwing. */
export function tryParseConstraint(source: string): Constraint | string {
  try {
    return parseConstraint(source);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function tilde(v: SemVer, c: Comparator): boolean {
  if (compareVersions(v, c.con) < 0) return false;
  if (c.con.major === 0n && c.con.minor === 0n && c.con.patch === 0n && !c.minorDirty && !c.patchDirty) return true;
  if (v.major !== c.con.major) return false;
  if (v.minor !== c.con.minor && !c.minorDirty) return false;
  return true;
}

function check(v: SemVer, c: Comparator): boolean {
  const con = c.con;
  switch (c.op) {
    case '':
    case '=':
      return c.dirty ? tilde(v, c) : compareVersions(v, con) === 0;
    case '!=':
      if (c.dirty) {
        if (con.major !== v.major) return true;
        if (con.minor !== v.minor && !c.minorDirty) return true;
        if (c.minorDirty) return false;
        if (con.patch !== v.patch && !c.patchDirty) return true;
        if (c.patchDirty) {
          if (v.pre || con.pre) return comparePrerelease(v.pre, con.pre) !== 0;
          return false;
        }
      }
      return compareVersions(v, con) !== 0;
    case '>':
      if (!c.dirty) return compareVersions(v, con) === 1;
      if (v.major > con.major) return true;
      if (v.major < con.major) return false;
      if (c.minorDirty) return false;
      if (c.patchDirty) return v.minor > con.minor;
      return compareVersions(v, con) === 1;
    case '<':
      return compareVersions(v, con) < 0;
    case '>=':
    case '=>':
      return compareVersions(v, con) >= 0;
    case '<=':
    case '=<':
      if (!c.dirty) return compareVersions(v, con) <= 0;
      if (v.major > con.major) return false;
      if (v.major === con.major && v.minor > con.minor && !c.minorDirty) return false;
      return true;
    case '~':
    case '~>':
      return tilde(v, c);
    case '^':
      if (compareVersions(v, con) < 0) return false;
      if (con.major > 0n || c.minorDirty) return v.major === con.major;
      if (con.major === 0n && v.major > 0n) return false;
      if (con.minor > 0n || c.patchDirty) return v.minor === con.minor;
      if (con.minor === 0n && v.minor > 0n) return false;
      return con.patch === v.patch;
  }
}

/** Masterminds `Constraints.Check`. */
export function satisfies(v: SemVer, c: Constraint): boolean {
  return c.groups.some((group, i) => {
    if (v.pre && !c.containsPre[i]) return false;
    return group.every((cmp) => check(v, cmp));
  });
}
