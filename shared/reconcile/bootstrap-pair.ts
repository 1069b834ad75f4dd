/**
 * The bootstrap pair: `flux-system`'s GitRepository and Kustomization. Their definitions
 * come from the configuration (fluxless.yaml); a `flux bootstrap`ped repository also has
 * them in Git (`gotk-sync.yaml`). Fluxless merges the two, never lets one silently replace
 * the other: every field the configuration sets wins (the URL and credentials that work
 * without SSH keys in Git, the path), fields only Git sets are kept (ignore rules,
 * decryption, timeout, ...), and every disagreement is recorded in `bootstrap.conflicts`
 * and reported by an event and by `fluxless get` / `fluxless check`.
 */
import { posix } from 'node:path';
import type { KubeObject } from '../kube/object.js';
import { parseDuration } from '../util/duration.js';
import { appendEvent } from './status.js';
import type { ObjectRecord } from '../state/records.js';
import { trimEnd } from '../util/trim.js';

/**
 * `JSON.stringify(v)` with URL userinfo masked, as `.replace(/(\w+:\/\/)[^/@\s"]+@/g, '$1***@')`
 * but in linear time (that regex rescans a long run of word characters from each of them).
 */
function redact(v: unknown): string {
  const s = JSON.stringify(v);
  let out = '';
  let last = 0;
  let from = 0;
  for (let q = s.indexOf('://'); q >= 0; q = s.indexOf('://', Math.max(from, q + 1))) {
    let r = q;
    while (r > from && /\w/.test(s[r - 1]!)) r--;
    if (r === q) continue;
    let e = q + 3;
    while (e < s.length && !/[/@\s"]/.test(s[e]!)) e++;
    if (e === q + 3 || s[e] !== '@') continue;
    out += s.slice(last, q + 3) + '***@';
    last = from = e + 1;
  }
  return last === 0 ? s : out + s.slice(last);
}

/** Spec fields that are Go durations: `1m0s` (what `flux bootstrap` writes) and `1m` are the same. */
const DURATION_FIELDS = new Set(['interval', 'timeout', 'retryInterval']);

/** JSON with sorted keys, so key order never makes a difference. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as Record<string, unknown>).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** True when Git's and the configuration's values of `spec.<field>` mean the same to Flux. */
function sameValue(field: string, a: unknown, b: unknown): boolean {
  if (DURATION_FIELDS.has(field) && typeof a === 'string' && typeof b === 'string') {
    try {
      return parseDuration(a) === parseDuration(b);
    } catch {
      return a === b;
    }
  }
  // `./clusters/dev`, `clusters/dev` and `./clusters/dev/` are one path to kustomize-controller.
  if (field === 'path' && typeof a === 'string' && typeof b === 'string') return normalPath(a) === normalPath(b);
  return canonical(a) === canonical(b);
}

function normalPath(p: string): string {
  const n = posix.normalize(`/${p}`);
  return n.length > 1 ? trimEnd(n, '/') : n;
}

/** The effective definition and the conflicts, from the configuration's object and Git's. */
export function mergeBootstrap(config: KubeObject, git: KubeObject | undefined): { object: KubeObject; conflicts: string[] } {
  if (!git) return { object: config, conflicts: [] };
  const gitSpec = (git.spec ?? {}) as Record<string, unknown>;
  const cfgSpec = (config.spec ?? {}) as Record<string, unknown>;
  const conflicts: string[] = [];
  for (const [k, v] of Object.entries(cfgSpec)) {
    if (k in gitSpec && !sameValue(k, gitSpec[k], v)) {
      conflicts.push(`spec.${k}: the configuration's ${redact(v)} is used, not Git's ${redact(gitSpec[k])}`);
    }
  }
  const object: KubeObject = {
    apiVersion: config.apiVersion,
    kind: config.kind,
    metadata: {
      ...config.metadata,
      labels: { ...(git.metadata.labels ?? {}), ...(config.metadata.labels ?? {}) },
      annotations: { ...(git.metadata.annotations ?? {}), ...(config.metadata.annotations ?? {}) },
    },
    spec: { ...gitSpec, ...cfgSpec },
  };
  if (!Object.keys(object.metadata.labels ?? {}).length) delete object.metadata.labels;
  if (!Object.keys(object.metadata.annotations ?? {}).length) delete object.metadata.annotations;
  return { object, conflicts };
}

function sameDefinition(a: KubeObject | undefined, b: KubeObject): boolean {
  if (!a) return false;
  return (
    JSON.stringify(a.spec ?? {}) === JSON.stringify(b.spec ?? {}) &&
    JSON.stringify(a.metadata.labels ?? {}) === JSON.stringify(b.metadata.labels ?? {}) &&
    JSON.stringify(a.metadata.annotations ?? {}) === JSON.stringify(b.metadata.annotations ?? {})
  );
}

/**
 * A bootstrap record with new inputs (a new configuration object, or a new Git object;
 * `undefined` keeps the current one), or undefined when nothing changed.
 */
export function withBootstrapInputs(cur: ObjectRecord | undefined, inputs: { config?: KubeObject; git?: KubeObject | null }, at = new Date()): ObjectRecord | undefined {
  const config = inputs.config ?? cur?.bootstrap?.config ?? cur?.object;
  if (!config) return undefined;
  const git = inputs.git === null ? undefined : inputs.git ?? cur?.bootstrap?.git;
  const { object, conflicts } = mergeBootstrap(config, git);
  const unchanged =
    cur?.object &&
    !cur.deleted &&
    sameDefinition(cur.object, object) &&
    JSON.stringify(cur.bootstrap?.config) === JSON.stringify(config) &&
    JSON.stringify(cur.bootstrap?.git) === JSON.stringify(git);
  if (unchanged) return undefined;
  const gen = Number(cur?.object?.metadata.generation ?? 0);
  const effective: KubeObject = { ...object, metadata: { ...object.metadata, generation: sameDefinition(cur?.object, object) && !cur?.deleted ? gen || 1 : gen + 1 } };
  let events = cur?.events;
  if (conflicts.length && JSON.stringify(conflicts) !== JSON.stringify(cur?.bootstrap?.conflicts ?? [])) {
    events = appendEvent(events, { severity: 'error', reason: 'BootstrapOverride', message: `the configuration overrides the Git definition (gotk-sync.yaml): ${conflicts.join('; ')}` }, at.toISOString());
  }
  return {
    status: {},
    ...cur,
    events,
    deleted: false,
    origin: { by: 'bootstrap' },
    object: effective,
    bootstrap: { config, ...(git ? { git } : {}), ...(conflicts.length ? { conflicts } : {}) },
  };
}

/** Git's copy of a bootstrap object arrived in a build: merge it (undefined when nothing changed). */
export function adoptBootstrapDefinition(cur: ObjectRecord, git: KubeObject): ObjectRecord | undefined {
  return withBootstrapInputs(cur, { git });
}
