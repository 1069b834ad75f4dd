/**
 * Which Flux objects a registry event is about: an ImageRepository whose `spec.image`, an
 * OCIRepository whose `spec.url`, or a HelmRepository of type `oci` whose `spec.url` (a
 * prefix: charts live under it) names the event's repository. Hosts are compared
 * normalised (lower case, Docker Hub's aliases as `docker.io`); an event that does not say
 * its host (nexus) matches on the repository path alone.
 */
import type { KubeObject } from '../kube/object.js';
import { parseRepository, type RepositoryName } from '../oci/reference.js';
import { trimBoth, trimEnd } from '../util/trim.js';

/** The part of a registry event that matching needs (RegistryArtifact has it). */
export interface EventRepository {
  /** Registry host; '' when the sender does not say. */
  host: string;
  /** Repository path, e.g. `team/app`. */
  repository: string;
}

/** The kinds whose objects are matched by repository. */
export const IMAGE_SOURCE_KINDS: ReadonlySet<string> = new Set(['ImageRepository', 'OCIRepository', 'HelmRepository']);

const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com', 'hub.docker.com']);

/** A host as matching compares it. */
export function normalizeHost(host: string): string {
  const h = host.toLowerCase();
  return DOCKER_HUB.has(h) ? 'docker.io' : h;
}

/** What an object watches: a repository, or (HelmRepository) every repository under a path. */
export interface WatchedRepository extends RepositoryName {
  prefix: boolean;
}

function safeRepository(name: string): RepositoryName | undefined {
  try {
    return parseRepository(name);
  } catch {
    return undefined;
  }
}

/** The repository an image-source object watches, or undefined (other kinds, invalid specs, HelmRepository of type default). */
export function watchedRepository(obj: Pick<KubeObject, 'kind' | 'spec'>): WatchedRepository | undefined {
  const spec = (obj.spec ?? {}) as { image?: unknown; url?: unknown; type?: unknown };
  switch (obj.kind) {
    case 'ImageRepository': {
      if (typeof spec.image !== 'string' || spec.image.includes('://')) return undefined;
      const r = safeRepository(spec.image);
      return r ? { ...r, prefix: false } : undefined;
    }
    case 'OCIRepository': {
      if (typeof spec.url !== 'string' || !spec.url.startsWith('oci://')) return undefined;
      const r = safeRepository(spec.url);
      return r ? { ...r, prefix: false } : undefined;
    }
    case 'HelmRepository': {
      if (spec.type !== 'oci' || typeof spec.url !== 'string' || !spec.url.startsWith('oci://')) return undefined;
      const r = safeRepository(trimEnd(spec.url, '/'));
      return r ? { ...r, prefix: true } : undefined;
    }
    default:
      return undefined;
  }
}

/** True when the event's repository is the one the object watches (or under it, for a prefix). */
export function repositoryMatches(event: EventRepository, watched: WatchedRepository): boolean {
  if (event.host !== '' && normalizeHost(event.host) !== normalizeHost(watched.registry)) return false;
  let repo = trimBoth(event.repository, '/');
  if (normalizeHost(watched.registry) === 'docker.io' && (event.host === '' || normalizeHost(event.host) === 'docker.io') && !repo.includes('/')) repo = `library/${repo}`;
  if (repo === watched.repository) return true;
  return watched.prefix && repo.startsWith(`${watched.repository}/`);
}

/** `host/repository` as ImageRepository's `status.canonicalImageName` writes it (`index.docker.io/library/alpine`). */
export function canonicalName(r: RepositoryName): string {
  return `${r.registry}/${r.repository}`;
}
