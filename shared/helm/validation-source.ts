/**
 * The cluster's `/openapi/v2` models for validation-manifest.ts, as fresh as the ones a helm
 * process reads: every check asks the API server again, with `If-None-Match` on the ETag of
 * the document it holds, so an unchanged document costs a 304 and no parsing, and a CRD
 * created or changed a moment ago is seen by the next check. Concurrent checks share a
 * request that started after they asked (SharedReads), so a burst of releases costs at most
 * two requests. The document is held parsed, one per cluster client.
 */
import type { KubeClient } from '../kube/client.js';
import { log } from '../util/log.js';
import { SharedReads } from '../util/shared-read.js';
import { manifestValidationProblem } from './validation-manifest.js';
import { ValidationModels } from './validation-models.js';

interface Held {
  etag: string;
  /** Undefined when kube-openapi would refuse the document. */
  models: ValidationModels | undefined;
}

/** The validation models of one cluster, revalidated on every use. */
export class ValidationSource {
  private held?: Held;
  private readonly reads = new SharedReads<Held | undefined>();

  constructor(private readonly client: KubeClient) {}

  /** The current models; undefined when the document cannot be read or would be refused. */
  async current(signal?: AbortSignal): Promise<ValidationModels | undefined> {
    const h = await this.reads.read('openapi', () => this.fetch(signal));
    return h?.models;
  }

  private async fetch(signal?: AbortSignal): Promise<Held | undefined> {
    const prev = this.held;
    let status = 0;
    let etag: string | undefined;
    try {
      const body = await this.client.request<unknown>('GET', '/openapi/v2', {
        headers: { accept: 'application/json', ...(prev ? { 'if-none-match': prev.etag } : {}) },
        signal,
        timeoutMs: 30_000,
        onResponse: (s, headers) => {
          status = s;
          const e = headers.etag;
          etag = typeof e === 'string' ? e : undefined;
        },
      });
      if (status === 304 && prev) return prev;
      if (status !== 200) return undefined;
      const held: Held = { etag: etag ?? '', models: ValidationModels.parse(body) };
      // Without an ETag the next check downloads the document again; it is never reused unchecked.
      this.held = etag ? held : undefined;
      return held;
    } catch (err) {
      log.debug('openapi document not read for release manifest validation', { error: err instanceof Error ? err.message : String(err) });
      return undefined;
    }
  }

  /**
   * Checks a post-rendered release manifest (see manifestValidationProblem): undefined when
   * helm's own validation would pass it, else why that is not certain.
   */
  async problem(manifest: string, signal?: AbortSignal): Promise<string | undefined> {
    const models = await this.current(signal);
    if (!models) return 'the cluster OpenAPI document could not be read or is not one kubectl reads';
    return manifestValidationProblem(manifest, models);
  }
}

const sources = new WeakMap<KubeClient, ValidationSource>();

/** The process's ValidationSource for a cluster client. */
export function validationSourceFor(client: KubeClient): ValidationSource {
  let s = sources.get(client);
  if (!s) sources.set(client, (s = new ValidationSource(client)));
  return s;
}
