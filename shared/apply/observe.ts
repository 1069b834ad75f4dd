/** Reads of live objects, and the engine's memory of what it last saw live. */
import { isNotFound } from '../kube/client.js';
import { RestMapper } from '../kube/mapper.js';
import type { KubeObject, ObjectRef } from '../kube/object.js';
import type { EngineContext, ObservedStore } from './types.js';

function key(r: ObjectRef): string {
  return `${r.group}|${r.kind}|${r.namespace ?? ''}|${r.name}`;
}

/** The live objects as last seen by an engine (apply responses, reads that found them unchanged). */
export class ObservedObjects implements ObservedStore {
  private readonly seen = new Map<string, KubeObject>();

  /** Remembers `obj` as the live state of `ref`. */
  set(ref: ObjectRef, obj: KubeObject): void {
    this.seen.set(key(ref), obj);
  }

  /** The live object as last seen, if it was. */
  get(ref: ObjectRef): KubeObject | undefined {
    return this.seen.get(key(ref));
  }
}

/** GET one object by path; undefined when it does not exist. */
export async function getPath(ctx: EngineContext, path: string): Promise<KubeObject | undefined> {
  try {
    return await ctx.request<KubeObject>('GET', path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** GET the live copy of an object given by apiVersion/kind/namespace/name. */
export async function getObject(
  ctx: EngineContext,
  obj: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } },
): Promise<KubeObject | undefined> {
  const mapping = await ctx.mapper.mapping(obj.apiVersion, obj.kind);
  return getPath(ctx, RestMapper.path(mapping, obj.metadata.namespace, obj.metadata.name));
}

/** GET the live copy of a reference (version: the inventory's, else the server's preferred). */
export async function getRef(ctx: EngineContext, ref: ObjectRef, version?: string): Promise<KubeObject | undefined> {
  const mapping = await ctx.mapper.mappingForGroupKind(ref.group, ref.kind, version);
  return getPath(ctx, RestMapper.path(mapping, ref.namespace, ref.name));
}
