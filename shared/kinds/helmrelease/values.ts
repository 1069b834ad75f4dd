/**
 * The values of a HelmRelease (fluxcd/pkg chartutil ChartValuesFromReferences, in
 * shared/helm/values.ts) read through the Kubernetes API, and the Secret-sourced strings
 * that must never appear in a message: every value read from a Secret key (and the
 * strings inside it), redacted from helm's errors, events and diffs.
 */
import { composeValues, kubeValuesSource, ValuesReferenceError, type Values, type ValuesSource } from '../../helm/values.js';
import type { HelmRelease } from '../../helm/release-spec.js';
import type { KubeClient } from '../../kube/client.js';
import { ReconcileFailure } from '../../reconcile/failure.js';
import { FluxlessError, errorMessage } from '../../util/errors.js';

/** The composed values and the Secret strings to redact. */
export interface ResolvedValues {
  values: Values;
  redact: string[];
  /** Optional references that were missing (logged). */
  skipped: string[];
}

function leafStrings(v: unknown, out: Set<string>, depth = 0): void {
  if (depth > 32) return;
  if (typeof v === 'string') {
    if (v.length >= 3) out.add(v);
  } else if (Array.isArray(v)) for (const x of v) leafStrings(x, out, depth + 1);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) leafStrings(x, out, depth + 1);
}

/** Removes `redact` strings from a text. */
export function redactText(text: string, redact: readonly string[]): string {
  let t = text;
  for (const s of [...redact].sort((a, b) => b.length - a.length)) if (s.length >= 3) t = t.split(s).join('***');
  return t;
}

/**
 * Composes the values (Flux's precedence), remembering every Secret value it read. Throws
 * ReconcileFailure ValuesError with Flux's message (the object and key named, no value).
 */
export async function resolveValues(client: KubeClient, hr: HelmRelease): Promise<ResolvedValues> {
  const kube = kubeValuesSource(client);
  const secrets = new Set<string>();
  const source: ValuesSource = {
    configMap: (ns, name) => kube.configMap(ns, name),
    async secret(ns, name) {
      const data = await kube.secret(ns, name);
      for (const v of Object.values(data ?? {})) {
        const text = v.toString('utf8');
        if (text.length >= 3) secrets.add(text);
        for (const line of text.split('\n')) {
          const m = /:\s*(.+?)\s*$/.exec(line);
          if (m && m[1].length >= 3) secrets.add(m[1].replace(/^["']|["']$/g, ''));
        }
      }
      return data;
    },
  };
  try {
    const res = await composeValues(source, hr.metadata.namespace, hr.spec.values, hr.spec.valuesFrom);
    // Every string of the composed values that came from a Secret.
    const fromSecrets = new Set<string>();
    leafStrings(res.values, fromSecrets);
    const redact = [...secrets, ...[...fromSecrets].filter((s) => [...secrets].some((x) => x.includes(s)))];
    return { values: res.values, redact: [...new Set(redact)], skipped: res.skipped };
  } catch (err) {
    if (err instanceof ValuesReferenceError) {
      throw new ReconcileFailure('ValuesError', redactText(err.message, [...secrets]), { cause: err });
    }
    if (err instanceof FluxlessError && ['Unreachable', 'Timeout'].includes(err.code)) throw err;
    throw new ReconcileFailure('ValuesError', redactText(errorMessage(err), [...secrets]), { cause: err });
  }
}
