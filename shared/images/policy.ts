/**
 * ImagePolicy tag selection, as image-reflector-controller's internal/policy does it:
 *
 * - `semver`: tags read with fluxcd/pkg `version.ParseVersion` (Masterminds StrictNewVersion
 *   plus an optional `v`: three parts, no leading zeros); unparsable tags are skipped; the
 *   highest version satisfying the range wins (the first of equal versions), and the
 *   original tag is returned;
 * - `alphabetical`: byte-wise string order, `ASC` (default) picks the greatest;
 * - `numerical`: Go ParseFloat; one non-numeric tag fails the whole policy; `ASC` picks the
 *   largest, ties go to the later tag;
 * - `filterTags`: a tag is kept when `pattern` matches anywhere; with `extract` the match is
 *   expanded (`$name`, `${1}`) and the policy orders the expanded values, the winner maps
 *   back to its tag (two tags that expand alike collapse into the later one).
 *
 * Errors carry Flux's messages; `invalid` ones make the policy Stalled (`InvalidPolicy`).
 */
import semver from 'semver';
import { constraintMatches, parseConstraint, parseVersion, type VersionConstraint } from '../oci/version.js';
import { FluxlessError, errorMessage } from '../util/errors.js';
import { expandGoTemplate, GoRegexp } from '../util/go-regexp.js';
import { parseGoFloat } from './go-float.js';

/** The `spec.policy` of an ImagePolicy, after Flux's precedence (semver, alphabetical, numerical). */
export type PolicyChoice =
  | { kind: 'semver'; range: string }
  | { kind: 'alphabetical'; order: string }
  | { kind: 'numerical'; order: string };

/** `spec.filterTags`. */
export interface TagFilterSpec {
  pattern: string;
  extract: string;
}

/** A policy failure with Flux's message; `invalid` means the spec is wrong (Stalled `InvalidPolicy`). */
export class PolicyError extends FluxlessError {
  readonly invalid: boolean;
  constructor(message: string, opts: { invalid?: boolean; cause?: unknown; hint?: string } = {}) {
    super(opts.invalid ? 'InvalidPolicy' : 'PolicyFailed', message, { cause: opts.cause, hint: opts.hint });
    this.invalid = opts.invalid ?? false;
  }
}

/** Picks the latest of a list of (possibly extracted) tags. */
export interface Policer {
  readonly description: string;
  latest(versions: readonly string[]): string;
}

const EMPTY = 'version list argument cannot be empty';

/** The policy kind from `spec.policy`, first of semver, alphabetical, numerical (Flux's factory order). */
export function policyChoice(policy: unknown): PolicyChoice {
  const p = (policy ?? {}) as { semver?: { range?: unknown }; alphabetical?: { order?: unknown }; numerical?: { order?: unknown } };
  if (p.semver && typeof p.semver === 'object') return { kind: 'semver', range: typeof p.semver.range === 'string' ? p.semver.range : '' };
  if (p.alphabetical && typeof p.alphabetical === 'object') return { kind: 'alphabetical', order: typeof p.alphabetical.order === 'string' ? p.alphabetical.order : '' };
  if (p.numerical && typeof p.numerical === 'object') return { kind: 'numerical', order: typeof p.numerical.order === 'string' ? p.numerical.order : '' };
  throw new PolicyError('invalid policy: given ImagePolicyChoice object is invalid', {
    invalid: true,
    hint: 'set spec.policy.semver.range, spec.policy.alphabetical or spec.policy.numerical',
  });
}

function order(o: string): 'ASC' | 'DESC' {
  const u = o.toUpperCase();
  if (u === '') return 'ASC';
  if (u === 'ASC' || u === 'DESC') return u;
  throw new PolicyError(`invalid policy: invalid order argument provided: '${u}', must be one of: ASC, DESC`, { invalid: true });
}

/** Builds the policer of a choice; throws PolicyError (invalid) with Flux's message. */
export function compilePolicy(choice: PolicyChoice): Policer {
  switch (choice.kind) {
    case 'semver': {
      let c: VersionConstraint;
      try {
        c = parseConstraint(choice.range);
      } catch (err) {
        throw new PolicyError(`invalid policy: ${errorMessage(err)}`, { invalid: true, cause: err, hint: 'spec.policy.semver.range is a Masterminds semver range such as ">=1.0.0" or "~1.2"' });
      }
      return { description: `semver ${choice.range}`, latest: (versions) => latestSemver(versions, c) };
    }
    case 'alphabetical': {
      const o = order(choice.order);
      return { description: `alphabetical ${o}`, latest: (versions) => latestAlphabetical(versions, o) };
    }
    case 'numerical': {
      const o = order(choice.order);
      return { description: `numerical ${o}`, latest: (versions) => latestNumerical(versions, o) };
    }
  }
}

function latestSemver(versions: readonly string[], c: VersionConstraint): string {
  if (versions.length === 0) throw new PolicyError(EMPTY);
  let best: { tag: string; v: semver.SemVer } | undefined;
  for (const tag of versions) {
    const v = parseVersion(tag);
    if (!v || !constraintMatches(c, v)) continue;
    if (!best || semver.compare(v, best.v) > 0) best = { tag, v };
  }
  if (!best) throw new PolicyError('unable to determine latest version from provided list');
  return best.tag;
}

function latestAlphabetical(versions: readonly string[], o: 'ASC' | 'DESC'): string {
  if (versions.length === 0) throw new PolicyError(EMPTY);
  let best = versions[0];
  for (const v of versions) if (o === 'ASC' ? v > best : v < best) best = v;
  return best;
}

function latestNumerical(versions: readonly string[], o: 'ASC' | 'DESC'): string {
  if (versions.length === 0) throw new PolicyError(EMPTY);
  let latest = '';
  let pv = 0;
  versions.forEach((version, i) => {
    const cv = parseGoFloat(version);
    if (cv === undefined) throw new PolicyError(`failed to parse invalid numeric value '${version}'`, { hint: 'a numerical policy needs every tag to be a number: add spec.filterTags to keep only numeric tags (or extract a number from them)' });
    if (i > 0 && ((o === 'ASC' && cv < pv) || (o === 'DESC' && cv > pv))) return;
    latest = version;
    pv = cv;
  });
  return latest;
}

/** A compiled `filterTags`. */
export interface TagFilter {
  /** Keeps matching tags, keyed by their (extracted) value; later tags win on equal values. */
  apply(tags: readonly string[]): Map<string, string>;
}

/** Compiles `filterTags` (Go RE2 syntax as users write it); throws PolicyError (invalid). */
export function compileTagFilter(spec: TagFilterSpec): TagFilter {
  let re: GoRegexp;
  try {
    re = GoRegexp.compile(spec.pattern);
  } catch (err) {
    throw new PolicyError(`failed to filter tags: invalid regular expression pattern '${spec.pattern}': ${errorMessage(err)}`, { invalid: true, cause: err });
  }
  return {
    apply(tags) {
      const out = new Map<string, string>();
      for (const tag of tags) {
        const m = re.exec(tag);
        if (!m) continue;
        out.set(spec.extract !== '' ? expandGoTemplate(spec.extract, m) : tag, tag);
      }
      return out;
    },
  };
}

/**
 * The latest tag of `tags` under the policy and the optional filter (Flux's applyPolicy):
 * the original tag, even when the policy ordered extracted values.
 */
export function latestTag(tags: readonly string[], policer: Policer, filter?: TagFilter): string {
  if (!filter) return policer.latest(tags);
  const kept = filter.apply(tags);
  const winner = policer.latest([...kept.keys()]);
  return kept.get(winner) ?? winner;
}
