/**
 * Kustomization `spec.ignore` (Flux 2.9; fluxcd/pkg ssa `DriftIgnoreRules`): JSON pointers
 * (RFC 6901), per target selector, that drift detection and apply leave alone.
 *
 * For an object that exists already:
 * - the ignored paths are removed from both the live object and the dry-run result before
 *   they are compared, so a change only there is no drift (no apply, no resourceVersion bump);
 * - when the object is applied for another reason, every ignored path whose live value
 *   differs from the dry-run's is either stripped from the payload (another Apply-type
 *   field manager owns it: we relinquish it, e.g. an HPA controller that server-side
 *   applies `spec.replicas`) or set to the live value (we are its only Apply owner, so a
 *   `kubectl edit` or a scale-subresource update survives while we keep the field).
 * A new object is created with the payload unchanged. Selectors are matched against the
 * dry-run object, so both copies are stripped on the same decision, as Flux does.
 */
import { isDeepStrictEqual } from 'node:util';
import type { KubeObject, ManagedFieldsEntry } from '../kube/object.js';
import { ValidationError } from '../util/errors.js';
import { CompiledSelector, type ObjectSelector } from './selector.js';

/** One `spec.ignore[]` rule: JSON pointers, and the objects they apply to (all without a target). */
export interface IgnoreRule {
  paths: string[];
  target?: ObjectSelector;
}

/** The pointer that ignores the whole object (jsondiff IgnorePathRoot). */
export const IGNORE_ROOT = '';

/** Ignore rules with compiled selectors and parsed pointers. */
export class IgnoreRules {
  private constructor(private readonly rules: ReadonlyArray<{ selector?: CompiledSelector; paths: string[] }>) {}

  /** Compiles rules (throws ValidationError naming `field[i]` for a bad pointer or selector). */
  static compile(rules: readonly IgnoreRule[], field = 'spec.ignore'): IgnoreRules {
    return new IgnoreRules(
      rules.map((r, i) => {
        r.paths.forEach((p, j) => {
          if (p !== IGNORE_ROOT && !p.startsWith('/')) {
            throw new ValidationError(`${field}[${i}].paths[${j}]: '${p}' is not a JSON pointer: it must start with '/' (RFC 6901), e.g. /spec/replicas`);
          }
          if (/~[^01]|~$/.test(p)) throw new ValidationError(`${field}[${i}].paths[${j}]: '${p}' has an invalid escape: write '~0' for '~' and '~1' for '/'`);
        });
        return { selector: r.target ? CompiledSelector.compile(r.target, `${field}[${i}].target`) : undefined, paths: [...r.paths] };
      }),
    );
  }

  /** True when there are no rules. */
  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** The pointers that apply to `obj` (rules whose target matches it). */
  pathsFor(obj: KubeObject): string[] {
    const out: string[] = [];
    for (const r of this.rules) if (!r.selector || r.selector.matches(obj)) out.push(...r.paths);
    return out;
  }
}

/** RFC 6901 segments of a pointer (`''` is the root: no segments). */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

type Container = Record<string, unknown> | unknown[];

function isContainer(v: unknown): v is Container {
  return typeof v === 'object' && v !== null;
}

/** Index into an array as json-patch does (negative indexes count from the end). */
function arrayIndex(arr: unknown[], seg: string): number | undefined {
  if (!/^-?\d+$/.test(seg)) return undefined;
  const n = Number(seg);
  const i = n < 0 ? arr.length + n : n;
  return i >= 0 && i < arr.length ? i : undefined;
}

/** The value at a pointer, if present. */
export function lookupPointer(doc: unknown, segs: readonly string[]): { found: boolean; value?: unknown } {
  let cur: unknown = doc;
  for (const s of segs) {
    if (Array.isArray(cur)) {
      const i = arrayIndex(cur, s);
      if (i === undefined) return { found: false };
      cur = cur[i];
    } else if (isContainer(cur) && Object.prototype.hasOwnProperty.call(cur, s)) {
      cur = (cur as Record<string, unknown>)[s];
    } else return { found: false };
  }
  return { found: true, value: cur };
}

/** Removes the value at a pointer, in place; a missing path is no error (AllowMissingPathOnRemove). */
function removeAt(doc: unknown, segs: readonly string[]): void {
  if (!segs.length) return;
  const parent = lookupPointer(doc, segs.slice(0, -1));
  if (!parent.found || !isContainer(parent.value)) return;
  const last = segs[segs.length - 1]!;
  if (Array.isArray(parent.value)) {
    const i = arrayIndex(parent.value, last);
    if (i !== undefined) parent.value.splice(i, 1);
  } else delete (parent.value as Record<string, unknown>)[last];
}

/** Sets the value at an existing pointer, in place; false when the path is not there. */
function replaceAt(doc: unknown, segs: readonly string[], value: unknown): boolean {
  if (!segs.length) return false;
  const parent = lookupPointer(doc, segs.slice(0, -1));
  if (!parent.found || !isContainer(parent.value)) return false;
  const last = segs[segs.length - 1]!;
  if (Array.isArray(parent.value)) {
    const i = arrayIndex(parent.value, last);
    if (i === undefined) return false;
    parent.value[i] = structuredClone(value);
    return true;
  }
  if (!Object.prototype.hasOwnProperty.call(parent.value, last)) return false;
  (parent.value as Record<string, unknown>)[last] = structuredClone(value);
  return true;
}

/**
 * A copy of `obj` without the `paths` (removed in order, as one json-patch would), or the
 * object itself when there is nothing to remove. The root pointer is handled by callers.
 */
export function withoutPaths(obj: KubeObject, paths: readonly string[]): KubeObject {
  const real = paths.filter((p) => p !== IGNORE_ROOT);
  if (!real.length) return obj;
  const copy = structuredClone(obj);
  for (const p of real) removeAt(copy, parsePointer(p));
  return copy;
}

/** What to do with one drifted ignored path of the apply payload. */
export type DriftResolution = { path: string; action: 'strip' } | { path: string; action: 'adopt'; value: unknown };

/**
 * For each ignored path (selectors matched on `dryRun`) whose live value differs from the
 * dry-run's: strip it when another Apply manager owns it, else adopt the live value.
 */
export function driftedIgnoredPaths(existing: KubeObject, dryRun: KubeObject, paths: readonly string[], manager: string): DriftResolution[] {
  const out: DriftResolution[] = [];
  const owners = applyOwners(existing, manager);
  for (const p of paths) {
    if (p === IGNORE_ROOT) continue;
    const segs = parsePointer(p);
    const live = lookupPointer(existing, segs);
    const dry = lookupPointer(dryRun, segs);
    if (live.found === dry.found && isDeepStrictEqual(live.value, dry.value)) continue;
    if (ownedByOther(existing, segs, owners)) out.push({ path: p, action: 'strip' });
    else out.push({ path: p, action: 'adopt', value: live.found ? live.value : undefined });
  }
  return out;
}

/**
 * The payload to send for an existing object: stripped and adopted paths resolved. An
 * adopted path whose live value is gone is stripped (sending it would claim a value nobody
 * has); one the payload does not set is left out, as it was.
 */
export function resolvePayload(payload: KubeObject, res: readonly DriftResolution[]): KubeObject {
  if (!res.length) return payload;
  const out = structuredClone(payload);
  for (const r of res.filter((x) => x.action === 'strip')) removeAt(out, parsePointer(r.path));
  for (const r of res) {
    if (r.action !== 'adopt') continue;
    const segs = parsePointer(r.path);
    if (r.value === undefined) removeAt(out, segs);
    else replaceAt(out, segs, r.value);
  }
  return out;
}

/** fieldsV1 of the Apply-type managers other than ours (subresource entries excluded, as Flux). */
function applyOwners(obj: KubeObject, manager: string): Array<Record<string, unknown>> {
  const entries: ManagedFieldsEntry[] = obj.metadata.managedFields ?? [];
  return entries
    .filter((e) => !e.subresource && e.operation === 'Apply' && e.manager !== manager && e.fieldsV1 && typeof e.fieldsV1 === 'object')
    .map((e) => e.fieldsV1!);
}

/** Does any of `owners` own the field at `segs` (its fieldsV1 path exists)? Unresolvable list items: no. */
function ownedByOther(obj: KubeObject, segs: readonly string[], owners: ReadonlyArray<Record<string, unknown>>): boolean {
  if (!owners.length) return false;
  const fieldSegs: string[] = [];
  let cur: unknown = obj;
  for (const s of segs) {
    if (Array.isArray(cur)) {
      const i = arrayIndex(cur, s);
      const item = i === undefined ? undefined : cur[i];
      if (!item || typeof item !== 'object' || Array.isArray(item)) return false;
      const key = listItemKey(owners, fieldSegs, item as Record<string, unknown>);
      if (!key) return false;
      fieldSegs.push(key);
      cur = item;
    } else {
      fieldSegs.push(`f:${s}`);
      cur = isContainer(cur) ? (cur as Record<string, unknown>)[s] : undefined;
    }
  }
  return owners.some((f) => fieldsContain(f, fieldSegs));
}

/** The `k:{...}` key (from any owner's fieldsV1 at `parent`) whose key fields all equal the item's. */
function listItemKey(owners: ReadonlyArray<Record<string, unknown>>, parent: readonly string[], item: Record<string, unknown>): string | undefined {
  for (const f of owners) {
    const node = walk(f, parent);
    if (!node) continue;
    for (const k of Object.keys(node)) {
      if (!k.startsWith('k:')) continue;
      let kv: Record<string, unknown>;
      try {
        kv = JSON.parse(k.slice(2)) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (Object.entries(kv).every(([key, v]) => isDeepStrictEqual(item[key], v))) return k;
    }
  }
  return undefined;
}

function walk(fields: Record<string, unknown>, segs: readonly string[]): Record<string, unknown> | undefined {
  let cur: unknown = fields;
  for (const s of segs) {
    if (!isContainer(cur) || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[s];
  }
  return isContainer(cur) && !Array.isArray(cur) ? (cur as Record<string, unknown>) : undefined;
}

function fieldsContain(fields: Record<string, unknown>, segs: readonly string[]): boolean {
  if (!segs.length) return false;
  const parent = walk(fields, segs.slice(0, -1));
  return Boolean(parent && Object.prototype.hasOwnProperty.call(parent, segs[segs.length - 1]!));
}
