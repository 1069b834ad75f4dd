/** Small helpers shared by the OCI tests. */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseOciRepository, type OciRepositorySpec } from '../../shared/oci/spec.js';

/** A parsed OCIRepository spec for `url` with extra spec fields. */
export function ociSpec(url: string, spec: Record<string, unknown> = {}): OciRepositorySpec {
  return parseOciRepository({
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'OCIRepository',
    metadata: { name: 'app', namespace: 'default' },
    spec: { url, interval: '1m', ...spec },
  }).spec;
}

/** A temp dir with the given files (path -> content). */
export function tree(files: Record<string, string | Buffer>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fluxless-oci-src-'));
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(dir, rel);
    mkdirSync(path.dirname(abs), { recursive: true });
    writeFileSync(abs, content);
  }
  return dir;
}

/** A unique repository path per test. */
export function uniqueRepo(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
}

/** `.dockerconfigjson` Secret data for one registry. */
export function dockerConfig(host: string, username: string, password: string, useAuthField = true): { data: Record<string, string>; name: string } {
  const entry = useAuthField ? { auth: Buffer.from(`${username}:${password}`).toString('base64') } : { username, password };
  return { data: { '.dockerconfigjson': JSON.stringify({ auths: { [host]: entry } }) }, name: 'default/regcred' };
}
