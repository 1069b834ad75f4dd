/**
 * `spec.pathPattern` (Flux 2.9, source-watcher artifactgenerator_pathpattern.go): every
 * directory of a source matching `@alias/<pattern>` yields one output per
 * `spec.artifacts[]` template. The pattern is anchored; each `{name}` capture matches one
 * path segment. Captures are lowercased for artifact names and labels (copy paths keep the
 * directory's case) and become labels `<capture>=<value>`. Invalid captures, values that
 * are not label values, names that are not object names and two directories that give the
 * same name are terminal errors (the spec or the layout must change).
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { ValidationError } from '../../util/errors.js';
import { GoRegexp } from '../../util/go-regexp.js';
import { isDnsSubdomain, type OutputArtifact } from './spec.js';

/** One output to build: the artifact (templates rendered) and the capture labels. */
export interface ArtifactRequest {
  artifact: OutputArtifact;
  labels: Record<string, string>;
}

/** A pathPattern error that retrying cannot fix (Flux: Stalled, BuildFailed). */
export class PathPatternError extends ValidationError {}

const CAPTURE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function validateCaptures(pathPattern: string, pattern: string): void {
  const seen = new Set<string>();
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '{') {
      const end = pattern.indexOf('}', i + 1);
      if (end < 0) throw new PathPatternError(`pathPattern "${pathPattern}": invalid capture starting at offset ${i}: missing closing brace`);
      const name = pattern.slice(i + 1, end);
      if (!name) throw new PathPatternError(`pathPattern "${pathPattern}": empty capture variable`);
      if (!CAPTURE_NAME.test(name)) throw new PathPatternError(`pathPattern "${pathPattern}": capture variable "${name}" must be a valid capture name matching [A-Za-z_][A-Za-z0-9_]*`);
      if (seen.has(name)) throw new PathPatternError(`pathPattern "${pathPattern}": duplicate capture variable "${name}"`);
      if (!LABEL_NAME.test(name)) throw new PathPatternError(`pathPattern "${pathPattern}": capture variable "${name}" is not a valid Kubernetes label key`);
      seen.add(name);
      i = end;
    } else if (c === '}') {
      throw new PathPatternError(`pathPattern "${pathPattern}": invalid capture ending at offset ${i}: missing opening brace`);
    }
  }
}

/** Renders `{name}` placeholders; an unknown or malformed one is an error. */
export function renderTemplate(tmpl: string, data: Readonly<Record<string, string>>): string {
  let out = '';
  for (let i = 0; i < tmpl.length; i++) {
    const c = tmpl[i]!;
    if (c === '{') {
      const end = tmpl.indexOf('}', i + 1);
      if (end < 0) throw new PathPatternError(`invalid template "${tmpl}": capture starting at offset ${i} is missing closing brace`);
      const name = tmpl.slice(i + 1, end);
      if (!name) throw new PathPatternError(`invalid template "${tmpl}": empty capture variable`);
      if (!CAPTURE_NAME.test(name)) throw new PathPatternError(`invalid template "${tmpl}": capture variable "${name}" must be a valid capture name matching [A-Za-z_][A-Za-z0-9_]*`);
      if (!(name in data)) throw new PathPatternError(`invalid template "${tmpl}": capture variable "${name}" is not defined by pathPattern`);
      out += data[name];
      i = end;
    } else if (c === '}') {
      throw new PathPatternError(`invalid template "${tmpl}": capture ending at offset ${i} is missing opening brace`);
    } else out += c;
  }
  return out;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Every directory (relative, `/`-separated) under `root`, in walk order (names sorted). */
async function directories(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = (await readdir(rel ? path.join(root, rel) : root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    for (const n of entries) {
      const p = rel ? `${rel}/${n}` : n;
      out.push(p);
      await walk(p);
    }
  };
  await walk('');
  return out;
}

/**
 * The outputs to build: the templates as written without `pathPattern`, else one set per
 * matching directory of the pattern's source (`sources` maps alias -> extracted root).
 */
export async function artifactRequests(
  artifacts: readonly OutputArtifact[],
  pathPattern: string | undefined,
  sources: ReadonlyMap<string, string>,
): Promise<ArtifactRequest[]> {
  if (!pathPattern) return artifacts.map((artifact) => ({ artifact, labels: {} }));
  const slash = pathPattern.indexOf('/');
  if (!pathPattern.startsWith('@') || slash < 0) throw new PathPatternError(`invalid pathPattern format: ${pathPattern}`);
  const alias = pathPattern.slice(1, slash);
  const pattern = pathPattern.slice(slash + 1);
  const root = sources.get(alias);
  if (!root) throw new PathPatternError(`pathPattern "${pathPattern}": source alias ${alias} not found in local sources`);
  validateCaptures(pathPattern, pattern);
  const names: string[] = [];
  // RE2 (linear time), as source-watcher's Go regexp: adjacent captures (`{a}{b}{c}{d}{e}`)
  // made a backtracking RegExp take seconds on one long directory name.
  const re = GoRegexp.compile(
    '^' +
      pattern
        .split(/(\{[A-Za-z_][A-Za-z0-9_]*\})/)
        .map((part) => {
          const m = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(part);
          if (!m) return escapeRegex(part);
          names.push(m[1]!);
          return '([^/]+)';
        })
        .join('') +
      '$',
  );
  const out: ArtifactRequest[] = [];
  const seen = new Map<string, string>();
  for (const dir of await directories(root)) {
    const m = re.exec(dir);
    if (!m) continue;
    const raw: Record<string, string> = {};
    const lower: Record<string, string> = {};
    names.forEach((n, i) => {
      raw[n] = m[i + 1]!;
      lower[n] = m[i + 1]!.toLowerCase();
    });
    for (const [k, v] of Object.entries(lower)) {
      if (v.length > 63 || !LABEL_VALUE.test(v)) {
        throw new PathPatternError(`pathPattern "${pathPattern}": captured value "${v}" for variable "${k}" is not a valid Kubernetes label value: at most 63 characters, alphanumeric at both ends, '-', '_' or '.' between`);
      }
    }
    for (const a of artifacts) {
      let name: string;
      let copy: OutputArtifact['copy'];
      try {
        name = renderTemplate(a.name, lower);
        copy = a.copy.map((c) => ({ ...c, from: renderTemplate(c.from, raw), to: renderTemplate(c.to, raw) }));
      } catch (err) {
        throw new PathPatternError(`pathPattern "${pathPattern}": failed to render artifact ${a.name} for match ${dir}: ${(err as Error).message}`);
      }
      if (!isDnsSubdomain(name)) throw new PathPatternError(`pathPattern "${pathPattern}": rendered artifact name "${name}" is not a valid Kubernetes object name`);
      const prev = seen.get(name);
      if (prev !== undefined) throw new PathPatternError(`pathPattern "${pathPattern}": directories "${prev}" and "${dir}" both resolve to artifact name "${name}"`);
      seen.set(name, dir);
      out.push({ artifact: { ...a, name, copy }, labels: { ...lower } });
    }
  }
  return out;
}
