/**
 * Drift detection (Flux's hasDrifted) and a readable field-level diff with every Secret
 * value masked.
 */
import { isDeepStrictEqual } from 'node:util';
import type { KubeObject } from '../kube/object.js';
import { isSecretObject, maskStrings, secretMasker } from './mask.js';

function stripForCompare(obj: KubeObject): Record<string, unknown> {
  const { metadata: _m, status: _s, ...rest } = obj;
  return rest;
}

function normMap(m: Record<string, string> | undefined): Record<string, string> {
  return m ?? {};
}

/** True when the dry-run result differs from the live object in labels, annotations or content. */
export function hasDrifted(existing: KubeObject | undefined, dryRun: KubeObject): boolean {
  if (!existing || !dryRun.metadata.resourceVersion) return true;
  if (!isDeepStrictEqual(normMap(dryRun.metadata.labels), normMap(existing.metadata.labels))) return true;
  if (!isDeepStrictEqual(normMap(dryRun.metadata.annotations), normMap(existing.metadata.annotations))) return true;
  return !isDeepStrictEqual(stripForCompare(dryRun), stripForCompare(existing));
}

/** One field-level difference between the live object and the desired one. */
export interface FieldChange {
  /** Dotted path, e.g. `spec.replicas` or `spec.template.spec.containers[0].image`. */
  path: string;
  op: 'add' | 'remove' | 'change';
  before?: unknown;
  after?: unknown;
}

const VOLATILE_META = ['managedFields', 'resourceVersion', 'generation', 'uid', 'creationTimestamp', 'selfLink'];

/** The object as a user compares it: no status, no server-owned metadata. */
export function comparable(obj: KubeObject | undefined): Record<string, unknown> | undefined {
  if (!obj) return undefined;
  const meta: Record<string, unknown> = { ...obj.metadata };
  for (const k of VOLATILE_META) delete meta[k];
  const { status: _s, ...rest } = obj;
  return { ...rest, metadata: meta };
}

/**
 * Masks Secret `data`/`stringData` values, marking which ones changed, like Flux. Any shape
 * is masked (a map's values one by one; a list, scalar or nested map as a whole), and every
 * other string of the Secret (annotations such as kubectl's last-applied configuration, or
 * anything else) has the values masked wherever they appear in it.
 */
export function maskSecrets(
  before: Record<string, unknown> | undefined,
  after: Record<string, unknown> | undefined,
): { before?: Record<string, unknown>; after?: Record<string, unknown> } {
  if (!isSecretObject(before) && !isSecretObject(after)) return { before, after };
  const mask = secretMasker([before, after]);
  const b = before ? maskStrings(before, mask) : undefined;
  const a = after ? maskStrings(after, mask) : undefined;
  for (const field of ['data', 'stringData']) {
    const inB = b !== undefined && field in b;
    const inA = a !== undefined && field in a;
    const bd = b?.[field];
    const ad = a?.[field];
    if (isObj(bd) && isObj(ad)) {
      const raw = { b: before![field] as Record<string, unknown>, a: after![field] as Record<string, unknown> };
      for (const k of new Set([...Object.keys(bd), ...Object.keys(ad)])) {
        if (k in bd && k in ad) {
          const changed = !isDeepStrictEqual(raw.b[k], raw.a[k]);
          bd[k] = changed ? '*** (before)' : '***';
          ad[k] = changed ? '*** (after)' : '***';
        } else if (k in bd) bd[k] = '***';
        else ad[k] = '***';
      }
      continue;
    }
    const changed = inB && inA && !isDeepStrictEqual(before![field], after![field]);
    if (inB) b![field] = maskShape(bd, changed ? '*** (before)' : '***');
    if (inA) a![field] = maskShape(ad, changed ? '*** (after)' : '***');
  }
  return { before: b, after: a };
}

/** A map keeps its keys (each value masked); anything else becomes one mask. */
function maskShape(v: unknown, m: string): unknown {
  if (v === null || v === undefined) return v;
  if (isObj(v)) return Object.fromEntries(Object.keys(v).map((k) => [k, m]));
  return m;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function walk(path: string, a: unknown, b: unknown, out: FieldChange[]): void {
  if (isDeepStrictEqual(a, b)) return;
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const p = path ? `${path}.${k}` : k;
      if (!(k in b)) out.push({ path: p, op: 'remove', before: a[k] });
      else if (!(k in a)) out.push({ path: p, op: 'add', after: b[k] });
      else walk(p, a[k], b[k], out);
    }
    return;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    for (let i = 0; i < a.length; i++) walk(`${path}[${i}]`, a[i], b[i], out);
    return;
  }
  out.push({ path, op: 'change', before: a, after: b });
}

/** Field-level changes from `before` (live) to `after` (desired, dry-run result); Secrets masked. */
export function fieldDiff(before: KubeObject | undefined, after: KubeObject | undefined): FieldChange[] {
  const masked = maskSecrets(comparable(before), comparable(after));
  const out: FieldChange[] = [];
  walk('', masked.before ?? {}, masked.after ?? {}, out);
  return out;
}

function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * Renders changes as `flux diff`-like lines. Changes from fieldDiff have Secret values
 * masked already; `secrets` (objects, only Secrets among them count) masks their values in
 * the rendered text too, for changes that come from elsewhere.
 */
export function renderDiff(changes: FieldChange[], secrets?: Iterable<unknown>): string {
  const text = changes
    .map((c) =>
      c.op === 'add'
        ? `  + ${c.path}: ${show(c.after)}`
        : c.op === 'remove'
          ? `  - ${c.path}: ${show(c.before)}`
          : `  ~ ${c.path}: ${show(c.before)} -> ${show(c.after)}`,
    )
    .join('\n');
  return secrets ? secretMasker(secrets)(text) : text;
}
