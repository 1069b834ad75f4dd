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

/**
 * The value of a `key: value` line of a Secret when it has 3 characters or more: what
 * `/:\s*(.+?)\s*$/.exec(line)?.[1]` gives, in linear time (that regex is quadratic on a long
 * run of whitespace inside the value). As there, the value is what follows the first `:` whose
 * value (surrounding whitespace dropped) has no line terminator (`\r`, U+2028, U+2029).
 */
export function secretLineValue(line: string): string | undefined {
  let c = line.indexOf(':');
  if (c < 0) return undefined;
  // Every candidate value ends where the line's trailing whitespace starts.
  const end = line.trimEnd().length;
  const t = end === 0 ? -1 : Math.max(line.lastIndexOf('\r', end - 1), line.lastIndexOf('\u2028', end - 1), line.lastIndexOf('\u2029', end - 1));
  const valueStart = (colon: number) => {
    let i = colon + 1;
    while (i < end && /\s/.test(line[i]!)) i++;
    return i;
  };
  let start = valueStart(c);
  if (start <= t) {
    // The value holds a terminator: so do those of the later `:` before it, except one whose
    // leading whitespace runs over it; else the first `:` after it.
    let w = t;
    while (w > c + 1 && /\s/.test(line[w - 1]!)) w--;
    c = w - 1 > c && line[w - 1] === ':' ? w - 1 : line.indexOf(':', t + 1);
    if (c < 0) return undefined;
    start = valueStart(c);
  }
  return end - start >= 3 ? line.slice(start, end) : undefined;
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
          const value = secretLineValue(line);
          if (value !== undefined) secrets.add(value.replace(/^["']|["']$/g, ''));
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
    // One search per string in all Secret texts joined (NUL cannot occur in the search
    // unless the string holds one), rather than a search in each Secret text: a Secret of
    // many lines and values of many strings made that a product of the two.
    const secretList = [...secrets];
    const joined = secretList.join('\0');
    const inSecret = (s: string) => secretList.length > 0 && (s.includes('\0') ? secretList.some((x) => x.includes(s)) : joined.includes(s));
    const redact = [...secrets, ...[...fromSecrets].filter(inSecret)];
    return { values: res.values, redact: [...new Set(redact)], skipped: res.skipped };
  } catch (err) {
    if (err instanceof ValuesReferenceError) {
      throw new ReconcileFailure('ValuesError', redactText(err.message, [...secrets]), { cause: err });
    }
    if (err instanceof FluxlessError && ['Unreachable', 'Timeout'].includes(err.code)) throw err;
    throw new ReconcileFailure('ValuesError', redactText(errorMessage(err), [...secrets]), { cause: err });
  }
}
