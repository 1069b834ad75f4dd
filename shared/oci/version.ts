/**
 * Version rules of Flux's OCI sources: tags are read with fluxcd/pkg `version.ParseVersion`
 * (strict semver `major.minor.patch[-pre][+build]`, no leading zeros, one optional `v`),
 * ranges with Masterminds/semver v3 (`,` or space = AND, `||` = OR, `!=`, `=>`, `=<`, `~>`,
 * hyphen ranges, x-ranges, `*`). A pre-release version only matches an OR group in which
 * some comparator names a pre-release. For Helm chart layers `_` in a tag is read as `+`
 * (OCI tags cannot carry `+`), and written back as `_`.
 */
import semver from 'semver';
import { HELM_CHART_CONTENT } from './media-types.js';

/** A Masterminds-style constraint, compiled. */
export interface VersionConstraint {
  /** As written. */
  source: string;
  groups: { comparators: { range: string; negate: boolean }[]; allowsPrerelease: boolean }[];
}

const MAX_LEN = 512;
const MAX_GROUPS = 32;
const OPS: Record<string, string> = { '': '', '=': '', '!=': '!=', '>': '>', '<': '<', '>=': '>=', '=>': '>=', '<=': '<=', '=<': '<=', '~': '~', '~>': '~', '^': '^' };
const VERSION_TOKEN = /^v?[0-9xX*][0-9A-Za-z.+*-]*$/;
const COMPARATOR = /^(!=|>=|=>|<=|=<|~>|=|>|<|~|\^)?(v?[0-9xX*][0-9A-Za-z.+*-]*)$/;
const STRICT = /^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-((?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

/** Parses a tag like fluxcd/pkg version.ParseVersion; undefined when it is not a version. */
export function parseVersion(tag: string): semver.SemVer | undefined {
  const bare = tag.startsWith('v') ? tag.slice(1) : tag;
  if (!STRICT.test(bare)) return undefined;
  return semver.parse(bare) ?? undefined;
}

/** Parses like Masterminds StrictNewVersion (no `v` prefix allowed), as Helm reads chart tags. */
export function parseStrictVersion(tag: string): semver.SemVer | undefined {
  if (!STRICT.test(tag)) return undefined;
  return semver.parse(tag) ?? undefined;
}

function hasPrerelease(version: string): boolean {
  return version.split('+')[0].includes('-');
}

/** Compiles a Masterminds constraint; throws Error with a message naming the bad part. */
export function parseConstraint(source: string): VersionConstraint {
  const text = source.trim();
  if (!text) throw new Error('improper constraint: the constraint is empty');
  if (text.length > MAX_LEN) throw new Error(`improper constraint: longer than ${MAX_LEN} characters`);
  const rawGroups = text.split('||');
  if (rawGroups.length > MAX_GROUPS) throw new Error(`improper constraint: more than ${MAX_GROUPS} '||' groups`);
  const groups: VersionConstraint['groups'] = [];
  for (const raw of rawGroups) {
    const comparators: { range: string; negate: boolean }[] = [];
    let allowsPrerelease = false;
    const parts = raw.replace(/,/g, ' ').replace(/([!=<>~^]+)\s+/g, '$1').trim().split(/\s+/).filter(Boolean);
    if (parts.length === 0) throw new Error(`improper constraint: ${JSON.stringify(raw)}`);
    for (let i = 0; i < parts.length; i++) {
      if (parts[i + 1] === '-' && parts[i + 2] !== undefined) {
        const from = parts[i];
        const to = parts[i + 2];
        const range = `${from} - ${to}`;
        if (!VERSION_TOKEN.test(from) || !VERSION_TOKEN.test(to) || !semver.validRange(range)) throw new Error(`improper constraint: ${range}`);
        comparators.push({ range, negate: false });
        allowsPrerelease ||= hasPrerelease(from) || hasPrerelease(to);
        i += 2;
        continue;
      }
      const m = COMPARATOR.exec(parts[i]);
      if (!m) throw new Error(`improper constraint: ${parts[i]}`);
      const op = OPS[m[1] ?? ''];
      const version = m[2];
      const negate = op === '!=';
      const range = negate ? version : `${op}${version}`;
      if (!semver.validRange(range)) throw new Error(`improper constraint: ${parts[i]}`);
      comparators.push({ range, negate });
      allowsPrerelease ||= hasPrerelease(version);
    }
    groups.push({ comparators, allowsPrerelease });
  }
  return { source, groups };
}

/** True when `v` satisfies the constraint (Masterminds Check). */
export function constraintMatches(c: VersionConstraint, v: semver.SemVer): boolean {
  const pre = v.prerelease.length > 0;
  return c.groups.some(
    (g) =>
      (!pre || g.allowsPrerelease) &&
      g.comparators.every((cmp) => {
        const inRange = semver.satisfies(v, cmp.range, { includePrerelease: true });
        return cmp.negate ? !inRange : inRange;
      }),
  );
}

/** OCI tag -> semver text: `_` is read as `+` for the Helm chart layer media type. */
export function ociTagToSemver(tag: string, layerMediaType?: string): string {
  return layerMediaType === HELM_CHART_CONTENT ? tag.replaceAll('_', '+') : tag;
}

/** Semver text -> OCI tag: `+` is written as `_` for the Helm chart layer media type. */
export function semverToOciTag(version: string, layerMediaType?: string): string {
  return layerMediaType === HELM_CHART_CONTENT ? version.replaceAll('+', '_') : version;
}

/**
 * The tag an OCIRepository `ref.semver` resolves to: tags kept by `filter` (semverFilter),
 * parsed with parseVersion after the Helm `_` mapping, checked against the constraint, the
 * highest wins (build metadata does not order; the first seen of equal versions wins).
 * Returns the original tag, or undefined when none matches.
 */
export function pickSemverTag(
  tags: Iterable<string>,
  constraint: VersionConstraint,
  opts: { filter?: { test(tag: string): boolean }; layerMediaType?: string } = {},
): string | undefined {
  let best: { tag: string; v: semver.SemVer } | undefined;
  for (const tag of tags) {
    if (opts.filter && !opts.filter.test(tag)) continue;
    const v = parseVersion(ociTagToSemver(tag, opts.layerMediaType));
    if (!v || !constraintMatches(constraint, v)) continue;
    if (!best || semver.compare(v, best.v) > 0) best = { tag, v };
  }
  return best?.tag;
}
