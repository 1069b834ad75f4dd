/**
 * REST mapping (apiVersion + kind -> resource path), from the API server's discovery,
 * cached per group-version and refreshed on a miss (after CRDs are applied).
 */
import { NotFoundError } from '../util/errors.js';
import type { KubeClient } from './client.js';
import { isNotFound } from './client.js';
import { splitApiVersion, type KubeObject } from './object.js';

export interface ResourceMapping {
  group: string;
  version: string;
  resource: string;
  kind: string;
  namespaced: boolean;
}

interface ApiResourceList {
  resources: Array<{ name: string; kind: string; namespaced: boolean; verbs?: string[] }>;
}

interface ApiGroupList {
  groups: Array<{ name: string; preferredVersion?: { version: string }; versions: Array<{ version: string }> }>;
}

export class NoKindMatchError extends NotFoundError {
  constructor(apiVersion: string, kind: string) {
    super(`no matches for kind "${kind}" in version "${apiVersion}"`, {
      hint: 'is the CustomResourceDefinition installed (or applied earlier in the same Kustomization)?',
    });
  }
}

export interface RestMapperOptions {
  /**
   * Forget what discovery said after this long (ms). A long-lived mapper (shared by every
   * reconcile of a process) then sees CRDs that changed scope or went away. Default: never.
   */
  maxAgeMs?: number;
}

export class RestMapper {
  private cache = new Map<string, Promise<Map<string, ResourceMapping>>>();
  private preferred: Promise<Map<string, string>> | undefined;
  private loadedAt = Date.now();

  constructor(
    private readonly client: KubeClient,
    private readonly opts: RestMapperOptions = {},
  ) {}

  private load(apiVersion: string): Promise<Map<string, ResourceMapping>> {
    if (this.opts.maxAgeMs !== undefined && Date.now() - this.loadedAt > this.opts.maxAgeMs) this.invalidate();
    let p = this.cache.get(apiVersion);
    if (!p) {
      const { group, version } = splitApiVersion(apiVersion);
      const path = group ? `/apis/${group}/${version}` : `/api/${version}`;
      p = this.client
        .request<ApiResourceList>('GET', path)
        .then((list) => {
          const m = new Map<string, ResourceMapping>();
          for (const r of list.resources ?? []) {
            if (r.name.includes('/')) continue; // subresources
            m.set(r.kind, { group, version, resource: r.name, kind: r.kind, namespaced: r.namespaced });
          }
          return m;
        })
        .catch((err: unknown) => {
          if (isNotFound(err)) return new Map<string, ResourceMapping>();
          this.cache.delete(apiVersion);
          throw err;
        });
      this.cache.set(apiVersion, p);
    }
    return p;
  }

  /** Forget what we know (call after CRDs were created or changed). */
  invalidate(apiVersion?: string): void {
    if (apiVersion) this.cache.delete(apiVersion);
    else {
      this.cache.clear();
      this.loadedAt = Date.now();
    }
    this.preferred = undefined;
  }

  async mapping(apiVersion: string, kind: string): Promise<ResourceMapping> {
    let m = (await this.load(apiVersion)).get(kind);
    if (!m) {
      this.invalidate(apiVersion);
      m = (await this.load(apiVersion)).get(kind);
    }
    if (!m) throw new NoKindMatchError(apiVersion, kind);
    return m;
  }

  /** Mapping for a kind in a group at the server's preferred version (for inventory entries). */
  async mappingForGroupKind(group: string, kind: string, version?: string): Promise<ResourceMapping> {
    if (version) return this.mapping(group ? `${group}/${version}` : version, kind);
    if (!group) return this.mapping('v1', kind);
    if (!this.preferred) {
      this.preferred = this.client.request<ApiGroupList>('GET', '/apis').then((l) => {
        const m = new Map<string, string>();
        for (const g of l.groups) m.set(g.name, g.preferredVersion?.version ?? g.versions[0]?.version);
        return m;
      });
    }
    const v = (await this.preferred).get(group);
    if (!v) throw new NoKindMatchError(group, kind);
    return this.mapping(`${group}/${v}`, kind);
  }

  /** The URL path of an object (or of its collection when name is omitted). */
  static path(m: ResourceMapping, namespace: string | undefined, name?: string): string {
    const base = m.group ? `/apis/${m.group}/${m.version}` : `/api/${m.version}`;
    const ns = m.namespaced ? `/namespaces/${encodeURIComponent(namespace || 'default')}` : '';
    return `${base}${ns}/${m.resource}${name ? '/' + encodeURIComponent(name) : ''}`;
  }

  async objectPath(obj: KubeObject): Promise<{ mapping: ResourceMapping; path: string }> {
    const mapping = await this.mapping(obj.apiVersion, obj.kind);
    return { mapping, path: RestMapper.path(mapping, obj.metadata.namespace, obj.metadata.name) };
  }
}
