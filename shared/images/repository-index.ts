/**
 * An index from a registry repository (`host/path`) to the image-source objects that watch
 * it, so an event that names only a repository (ECR through EventBridge) finds its
 * ImageRepositories without reading every record. ImageRepositories register themselves
 * when they reconcile (and move when `spec.image` changes); entries are hints that readers
 * check against the object's current spec, as the other reverse indexes are.
 */
import { createHash } from 'node:crypto';
import { sameKey, type ObjectKey } from '../kube/object.js';
import type { RepositoryName } from '../oci/reference.js';
import type { StateStore } from '../state/store.js';
import { normalizeHost } from './match.js';

/** The state-store kind of the index documents. */
export const IMAGE_SOURCE_INDEX_KIND = 'ImageSourceIndex';

interface IndexDoc {
  repository: string;
  members: ObjectKey[];
}

/** The index's name for a repository: normalised host and path. */
export function indexedRepository(r: RepositoryName): string {
  return `${normalizeHost(r.registry)}/${r.repository}`;
}

function docKey(repository: string): ObjectKey {
  return { kind: IMAGE_SOURCE_INDEX_KIND, namespace: '', name: createHash('sha256').update(repository).digest('hex').slice(0, 40) };
}

/** Records that `member` watches `repository` (one read when it is recorded already). */
export async function registerImageSource(state: StateStore, repository: string, member: ObjectKey): Promise<void> {
  const key = docKey(repository);
  const cur = (await state.get<IndexDoc>(key))?.value;
  if (cur?.members.some((m) => sameKey(m, member))) return;
  await state.update<IndexDoc>(key, (c) =>
    c?.members.some((m) => sameKey(m, member))
      ? undefined
      : { repository, members: [...(c?.members ?? []), { kind: member.kind, namespace: member.namespace, name: member.name }] },
  );
}

/** Removes `member` from `repository`'s entry (no-op when absent). */
export async function unregisterImageSource(state: StateStore, repository: string, member: ObjectKey): Promise<void> {
  const key = docKey(repository);
  const res = await state.update<IndexDoc>(key, (c) => {
    if (!c || !c.members.some((m) => sameKey(m, member))) return undefined;
    return { repository, members: c.members.filter((m) => !sameKey(m, member)) };
  });
  if (res && res.value.members.length === 0) await state.delete(key, { ifVersion: res.version }).catch(() => false);
}

/** The objects registered for `repository` (hints: check each one's spec). */
export async function imageSourcesFor(state: StateStore, repository: string): Promise<ObjectKey[]> {
  const doc = (await state.get<IndexDoc>(docKey(repository)))?.value;
  return doc && doc.repository === repository ? doc.members : [];
}
