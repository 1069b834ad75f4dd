/**
 * HelmRelease naming rules (helm-controller api/v2 and internal/release/name.go): release
 * name, release (target) namespace, storage namespace, and the generated HelmChart's name.
 */
import { createHash } from 'node:crypto';

/** Helm's limit on release names. */
export const MAX_RELEASE_NAME_LENGTH = 53;

/**
 * helm-controller ShortenName: names over 53 characters become their first 40 characters,
 * `-`, and the first 12 hex characters of sha256(name).
 */
export function shortenReleaseName(name: string): string {
  if (Buffer.byteLength(name) <= MAX_RELEASE_NAME_LENGTH) return name;
  const sum = createHash('sha256').update(name).digest('hex');
  return Buffer.from(name).subarray(0, MAX_RELEASE_NAME_LENGTH - 13).toString('latin1') + '-' + sum.slice(0, 12);
}

/** The parts of a HelmRelease the naming rules read. */
export interface ReleaseNaming {
  name: string;
  namespace: string;
  releaseName?: string;
  targetNamespace?: string;
  storageNamespace?: string;
}

/** `GetReleaseName()`: spec.releaseName, else `[targetNamespace-]name` (not yet shortened). */
export function releaseNameOf(hr: ReleaseNaming): string {
  if (hr.releaseName) return hr.releaseName;
  if (hr.targetNamespace) return `${hr.targetNamespace}-${hr.name}`;
  return hr.name;
}

/** The release name Helm gets: releaseNameOf() shortened when over 53 characters. */
export function helmReleaseName(hr: ReleaseNaming): string {
  return shortenReleaseName(releaseNameOf(hr));
}

/** `GetReleaseNamespace()`: spec.targetNamespace, else the HelmRelease's namespace. */
export function releaseNamespaceOf(hr: ReleaseNaming): string {
  return hr.targetNamespace || hr.namespace;
}

/** `GetStorageNamespace()`: spec.storageNamespace, else the HelmRelease's namespace. */
export function storageNamespaceOf(hr: ReleaseNaming): string {
  return hr.storageNamespace || hr.namespace;
}

/** `GetHelmChartName()`: the generated HelmChart is `<namespace>-<name>`. */
export function helmChartNameOf(hr: { name: string; namespace: string }): string {
  return `${hr.namespace}-${hr.name}`;
}
