/**
 * HelmRelease values composition and digest, after fluxcd/pkg chartutil (values.go,
 * merge.go, digest.go): `valuesFrom` in order, then `spec.values` on top; Flux's exact
 * merge semantics, including the nested-map sharing that makes `targetPath` win over
 * `spec.values` when the path's parent exists there.
 */
import { createHash } from 'node:crypto';
import { FluxlessError } from '../util/errors.js';
import type { KubeClient } from '../kube/client.js';
import { isNotFound } from '../kube/client.js';
import { encodeGoYaml, readValues } from './goyaml.js';
import { replacePathLiteralValue, replacePathValue } from './strvals.js';

/** Chart values: a JSON map. */
export type Values = Record<string, unknown>;

/** `spec.valuesFrom[]` (fluxcd/pkg meta.ValuesReference), defaults applied. */
export interface ValuesReference {
  kind: 'ConfigMap' | 'Secret';
  name: string;
  /** Default `values.yaml`. */
  valuesKey: string;
  /** `--set` style path; empty = merge the whole document at the root. */
  targetPath?: string;
  /** Missing object or key is skipped instead of failing. */
  optional: boolean;
  /** With targetPath: the value is set verbatim (`--set-literal`). */
  literal: boolean;
}

/** Reads the objects `valuesFrom` points at. Returns undefined when the object does not exist. */
export interface ValuesSource {
  configMap(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /** Secret data, base64-decoded. */
  secret(namespace: string, name: string): Promise<Record<string, Buffer> | undefined>;
}

/** Why a values reference failed (fluxcd/pkg chartutil ErrValuesRefReason). */
export type ValuesErrorReason = 'ResourceNotFound' | 'KeyNotFound' | 'ValuesDataRead' | 'ValueMerge';

const REASON_TEXT: Record<ValuesErrorReason, string> = {
  ResourceNotFound: 'resource not found',
  KeyNotFound: 'key not found',
  ValuesDataRead: 'failed to read values data',
  ValueMerge: 'failed to merge value',
};

/** A `valuesFrom` entry could not be resolved; the message is Flux's ErrValuesReference text. */
export class ValuesReferenceError extends FluxlessError {
  readonly reason: ValuesErrorReason;
  readonly ref: ValuesReference;
  readonly namespace: string;
  constructor(namespace: string, ref: ValuesReference, reason: ValuesErrorReason, detail?: string) {
    let msg = 'could not resolve';
    if (ref.optional) msg += ' optional';
    msg += ` ${ref.kind} chart values reference '${namespace}/${ref.name}' with key '${ref.valuesKey}': ${detail ?? REASON_TEXT[reason]}`;
    const hint =
      reason === 'ResourceNotFound'
        ? `create ${ref.kind} ${namespace}/${ref.name}, or set optional: true on the valuesFrom entry`
        : reason === 'KeyNotFound'
          ? `add the key '${ref.valuesKey}' to ${ref.kind} ${namespace}/${ref.name}, or change valuesKey`
          : reason === 'ValuesDataRead'
            ? `the data under '${ref.valuesKey}' must be a YAML map`
            : `check targetPath '${ref.targetPath ?? ''}' and the value's syntax`;
    super('ValuesError', msg, { hint });
    this.reason = reason;
    this.ref = ref;
    this.namespace = namespace;
  }
}

function isPlainMap(v: unknown): v is Values {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * chartutil.MergeMaps: b over a, maps merged recursively, anything else replaced. Only maps
 * present on both sides are copied; other nested maps are shared with the inputs, as in Go.
 */
export function mergeMaps(a: Values, b: Values): Values {
  const out: Values = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (isPlainMap(v)) {
      const cur = out[k];
      if (isPlainMap(cur)) {
        out[k] = mergeMaps(cur, v);
        continue;
      }
    }
    out[k] = v;
  }
  return out;
}

/** The outcome of composing values, with the optional references that were skipped (for a log line). */
export interface ComposedValues {
  values: Values;
  /** Messages for optional references that were missing. */
  skipped: string[];
}

/**
 * Flux's ChartValuesFromReferences: resolves `refs` in order in `namespace`, merging each
 * over the result, then merges `values` (spec.values) on top. Each object is read once.
 * Throws ValuesReferenceError (or the source's own error for API failures).
 */
export async function composeValues(
  source: ValuesSource,
  namespace: string,
  values: Values | undefined,
  refs: readonly ValuesReference[] = [],
): Promise<ComposedValues> {
  // One private copy of spec.values: the merges below share its nested maps, as Flux does.
  const spec: Values = values ? structuredClone(values) : {};
  let result: Values = {};
  const skipped: string[] = [];
  const objects = new Map<string, Promise<Record<string, string | Buffer> | undefined>>();

  for (const ref of refs) {
    const key = `${ref.kind}/${ref.name}`;
    let obj = objects.get(key);
    if (!obj) {
      obj = ref.kind === 'Secret' ? source.secret(namespace, ref.name) : source.configMap(namespace, ref.name);
      objects.set(key, obj);
    }
    const data = await obj;
    if (data === undefined) {
      const err = new ValuesReferenceError(namespace, ref, 'ResourceNotFound', `${ref.kind === 'Secret' ? 'secrets' : 'configmaps'} "${ref.name}" not found`);
      if (ref.optional) {
        skipped.push(err.message);
        continue;
      }
      throw err;
    }
    if (!Object.prototype.hasOwnProperty.call(data, ref.valuesKey)) {
      const err = new ValuesReferenceError(namespace, ref, 'KeyNotFound');
      if (ref.optional) {
        skipped.push(err.message);
        continue;
      }
      throw err;
    }
    const raw = data[ref.valuesKey];
    const text = typeof raw === 'string' ? raw : raw.toString('utf8');

    if (ref.targetPath) {
      result = mergeMaps(result, spec);
      try {
        if (ref.literal) replacePathLiteralValue(result, ref.targetPath, text);
        else replacePathValue(result, ref.targetPath, text);
      } catch (err) {
        throw new ValuesReferenceError(namespace, ref, 'ValueMerge', err instanceof Error ? err.message : String(err));
      }
      continue;
    }
    let parsed: Values;
    try {
      parsed = readValues(text);
    } catch (err) {
      throw new ValuesReferenceError(namespace, ref, 'ValuesDataRead', err instanceof Error ? err.message : String(err));
    }
    result = mergeMaps(result, parsed);
  }
  return { values: mergeMaps(result, spec), skipped };
}

/** sha256 of the empty input: the digest of no (or empty) values. */
const EMPTY_DIGEST = 'sha256:' + createHash('sha256').digest('hex');

/**
 * chartutil.DigestValues with the canonical algorithm: `sha256:` of the values encoded as
 * go-yaml v2 YAML with keys sorted; empty or absent values hash the empty input.
 */
export function valuesDigest(values: Values | undefined | null): string {
  if (!values || Object.keys(values).length === 0) return EMPTY_DIGEST;
  return 'sha256:' + createHash('sha256').update(encodeGoYaml(values, { sortKeys: true })).digest('hex');
}

/** A ValuesSource reading ConfigMaps and Secrets through the Kubernetes API. */
export function kubeValuesSource(client: KubeClient): ValuesSource {
  async function get<T>(path: string): Promise<T | undefined> {
    try {
      return await client.request<T>('GET', path);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
  return {
    async configMap(namespace, name) {
      const cm = await get<{ data?: Record<string, string> }>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${encodeURIComponent(name)}`);
      return cm ? (cm.data ?? {}) : undefined;
    },
    async secret(namespace, name) {
      const s = await get<{ data?: Record<string, string> }>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`);
      if (!s) return undefined;
      return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
    },
  };
}
