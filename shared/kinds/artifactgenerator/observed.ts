/**
 * The observed state of an ArtifactGenerator's sources (source-watcher ObservedSource):
 * each source's artifact as its record holds it, and the digest over all of them that
 * decides whether the outputs must be built again (`status.observedSourcesDigest`,
 * sha256 over the sorted `alias=[digest=..,revision=..,url=..]` entries joined with `|`).
 */
import { createHash } from 'node:crypto';
import { ANNOTATION_REVISION } from '../../oci/media-types.js';
import type { ReconcileServices } from '../../reconcile/contract.js';
import { registerSourceUser } from '../../reconcile/source-users.js';
import { readRecord, type ArtifactInfo } from '../../state/records.js';
import type { ObjectKey } from '../../kube/object.js';
import { sourceKey, type GeneratorSource } from './spec.js';

/** One source's artifact as the generator saw it. */
export interface ObservedSource {
  digest: string;
  revision: string;
  /** `org.opencontainers.image.revision` of the source's artifact metadata, if any. */
  originRevision?: string;
  url: string;
  artifact: ArtifactInfo;
}

/** A source that is missing or has no artifact yet (Flux: SourceFetchFailed, retried). */
export class SourceNotReady extends Error {}

/** The digest of the observed sources, as source-watcher HashObservedSources computes it. */
export function hashObservedSources(sources: ReadonlyMap<string, ObservedSource>): string {
  const parts = [...sources].map(([alias, s]) => `${alias}=[digest=${s.digest},revision=${s.revision},url=${s.url}]`).sort();
  return `sha256:${createHash('sha256').update(parts.join('|')).digest('hex')}`;
}

/**
 * Registers the generator as a user of each source (before reading it, so a source that
 * stores a new artifact right now wakes it) and reads their artifacts, by alias.
 * Throws SourceNotReady naming the first source without an artifact.
 */
export async function observeSources(svc: ReconcileServices, self: ObjectKey, sources: readonly GeneratorSource[]): Promise<Map<string, ObservedSource>> {
  for (const s of sources) await registerSourceUser(svc, sourceKey(s), self);
  const out = new Map<string, ObservedSource>();
  for (const s of sources) {
    const rec = await readRecord(svc.state, sourceKey(s));
    const id = `${s.kind}/${s.namespace}/${s.name}`;
    if (!rec?.object || rec.deleted) throw new SourceNotReady(`source '${id}' not found`);
    const a = rec.status.artifact;
    if (!a) throw new SourceNotReady(`source '${id}' is not ready`);
    out.set(s.alias, { digest: a.digest, revision: a.revision, originRevision: a.metadata?.[ANNOTATION_REVISION] || undefined, url: a.url ?? a.key, artifact: a });
  }
  return out;
}
