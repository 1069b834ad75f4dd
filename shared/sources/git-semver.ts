/**
 * Semver tag selection for GitRepository `spec.ref.semver`, following Flux: constraints
 * are Masterminds/semver v3 syntax (`,` or space = AND, `||` = OR, `!=`, `=>`, `=<`, `~>`,
 * hyphen ranges, x-ranges), tags are strict semver with an optional leading `v`
 * (fluxcd/pkg version.ParseVersion), and the highest matching version wins.
 *
 * Pre-releases follow Masterminds v3.2+: a pre-release version can only match an AND group
 * in which some comparator has a pre-release part, and then compares by plain semver
 * precedence (node-semver's "same major.minor.patch" rule is not used).
 */
import semver from 'semver';

interface Comparator {
  /** The comparator as node-semver range text (operator normalised). */
  range: string;
  negate: boolean;
}

interface ComparatorGroup {
  comparators: Comparator[];
  /** Some comparator's version has a pre-release part: pre-release versions may match. */
  allowsPrerelease: boolean;
}

/** A parsed GitRepository spec.ref.semver constraint (Masterminds syntax): OR-ed groups of AND-ed comparators. */
export interface SemverConstraint {
  /** The constraint as written. */
  source: string;
  groups: ComparatorGroup[];
}

/** Masterminds' limits (MaxConstraintLen, MaxConstraintGroups). */
const MAX_LEN = 512;
const MAX_GROUPS = 32;

const OPS: Record<string, string> = { '=': '', '!=': '!=', '>': '>', '<': '<', '>=': '>=', '=>': '>=', '<=': '<=', '=<': '<=', '~': '~', '~>': '~', '^': '^' };
const VERSION = /^v?[0-9xX*][0-9A-Za-z.+*-]*$/;
const TOKEN = /^(!=|>=|=>|<=|=<|~>|=|>|<|~|\^)?(v?[0-9xX*][0-9A-Za-z.+*-]*)$/;

function hasPrerelease(version: string): boolean {
  // The part after the first '-' that precedes any '+' build metadata.
  const core = version.split('+')[0];
  return core.includes('-');
}

/** Parses a Masterminds-style constraint; throws Error with a user-facing message when invalid. */
export function parseSemverConstraint(source: string): SemverConstraint {
  const text = source.trim();
  if (!text) throw new Error('semver constraint is empty');
  if (text.length > MAX_LEN) throw new Error(`constraint is longer than ${MAX_LEN} characters`);
  const rawGroups = text.split('||');
  if (rawGroups.length > MAX_GROUPS) throw new Error(`constraint has more than ${MAX_GROUPS} '||' groups`);
  const groups: ComparatorGroup[] = [];
  for (const rawGroup of rawGroups) {
    const group: Comparator[] = [];
    let allowsPrerelease = false;
    // Hyphen ranges first ("1.2 - 1.4.5"), then "op version" pairs with optional spaces.
    const normalised = rawGroup
      .replace(/,/g, ' ')
      .replace(/([!=<>~^]+)\s+/g, '$1')
      .trim();
    if (!normalised) throw new Error(`empty constraint group in '${source}'`);
    const parts = normalised.split(/\s+/);
    for (let i = 0; i < parts.length; i++) {
      if (parts[i + 1] === '-' && parts[i + 2] !== undefined) {
        const [from, to] = [parts[i], parts[i + 2]];
        const range = `${from} - ${to}`;
        if (!VERSION.test(from) || !VERSION.test(to) || !semver.validRange(range)) {
          throw new Error(`invalid hyphen range '${range}' in '${source}'`);
        }
        group.push({ range, negate: false });
        allowsPrerelease ||= hasPrerelease(from) || hasPrerelease(to);
        i += 2;
        continue;
      }
      const m = TOKEN.exec(parts[i]);
      if (!m) throw new Error(`invalid comparator '${parts[i]}' in '${source}'`);
      const op = OPS[m[1] ?? '='];
      const version = m[2];
      const negate = op === '!=';
      const range = negate ? version : `${op}${version}`;
      if (!semver.validRange(range)) throw new Error(`invalid comparator '${parts[i]}' in '${source}'`);
      group.push({ range, negate });
      allowsPrerelease ||= hasPrerelease(version);
    }
    groups.push({ comparators: group, allowsPrerelease });
  }
  return { source, groups };
}

/** Parses a tag name as Flux does: strict semver, optionally prefixed by one `v`. */
export function parseTagVersion(tag: string): semver.SemVer | undefined {
  const bare = tag.startsWith('v') ? tag.slice(1) : tag;
  if (!/^[0-9]/.test(bare)) return undefined;
  return semver.parse(bare, { loose: false }) ?? undefined;
}

/** True when the version satisfies the constraint, with Masterminds' rule for pre-release versions. */
export function constraintMatches(c: SemverConstraint, v: semver.SemVer): boolean {
  const pre = v.prerelease.length > 0;
  return c.groups.some(
    (group) =>
      (!pre || group.allowsPrerelease) &&
      group.comparators.every((cmp) => {
        const inRange = semver.satisfies(v, cmp.range, { includePrerelease: true });
        return cmp.negate ? !inRange : inRange;
      }),
  );
}

/**
 * Picks the highest tag whose version satisfies the constraint. Versions equal except for
 * build metadata are ordered by their build metadata (Flux orders them by commit time,
 * which is not known without fetching).
 */
export function pickSemverTag(tags: Iterable<string>, constraint: SemverConstraint): string | undefined {
  let best: { tag: string; v: semver.SemVer } | undefined;
  for (const tag of tags) {
    const v = parseTagVersion(tag);
    if (!v || !constraintMatches(constraint, v)) continue;
    if (!best || semver.compareBuild(v, best.v) > 0) best = { tag, v };
  }
  return best?.tag;
}
