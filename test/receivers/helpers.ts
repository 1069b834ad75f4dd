/** Shared fixtures for the receiver tests (not a test file itself). */
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from '../../shared/util/log.js';
import { parseReceiverObject } from '../../shared/receivers/spec.js';
// The parsers compile CEL synchronously; the product's callers load it with withCel (cel/load.ts).
import '../../shared/cel/expression.js';
import type { ReceiverDirectory, ReceiverEntry } from '../../shared/receivers/directory.js';
import type { ReconcileRequestInfo, ReconcileRequester } from '../../shared/receivers/app.js';
import type { ResourceSelector } from '../../shared/receivers/spec.js';

export function fixture(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
}

/** Independent of the code under test: sha256 of token+name+namespace. */
export function hookPath(token: string, name: string, namespace: string): string {
  return '/hook/' + createHash('sha256').update(token + name + namespace).digest('hex');
}

export function hmac(algorithm: 'sha1' | 'sha256' | 'sha512', secret: string, body: string | Buffer): string {
  return `${algorithm}=${createHmac(algorithm, secret).update(body).digest('hex')}`;
}

export interface ReceiverManifest {
  name: string;
  namespace?: string;
  type: string;
  events?: string[];
  resources?: unknown[];
  suspend?: boolean;
  /** Extra spec fields (resourceFilter, oidcProviders, ...). */
  spec?: Record<string, unknown>;
}

export function receiverObject(m: ReceiverManifest): Record<string, unknown> {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1',
    kind: 'Receiver',
    metadata: { name: m.name, namespace: m.namespace ?? 'flux-system' },
    spec: {
      type: m.type,
      ...(m.events ? { events: m.events } : {}),
      secretRef: { name: `${m.name}-token` },
      resources: m.resources ?? [{ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'flux-system' }],
      ...(m.suspend !== undefined ? { suspend: m.suspend } : {}),
      ...m.spec,
    },
  };
}

/** A generic-oidc Receiver object (no secretRef). */
export function oidcReceiverObject(m: ReceiverManifest): Record<string, unknown> {
  const obj = receiverObject({ ...m, type: 'generic-oidc' });
  delete (obj.spec as Record<string, unknown>).secretRef;
  return obj;
}

export function entry(m: ReceiverManifest, token: string, secret?: Record<string, string>): ReceiverEntry {
  const parsed = parseReceiverObject(m.type === 'generic-oidc' ? oidcReceiverObject(m) : receiverObject(m));
  return secret ? { ...parsed, token, secret } : { ...parsed, token };
}

/** A directory backed by a mutable list; counts list() calls. */
export class StaticDirectory implements ReceiverDirectory {
  listCalls = 0;
  protected rev = 0;
  failWith: Error | undefined;
  constructor(private entries: ReceiverEntry[]) {}
  set(entries: ReceiverEntry[]): void {
    this.entries = entries;
    this.rev++;
  }
  async list(): Promise<ReceiverEntry[]> {
    this.listCalls++;
    if (this.failWith) throw this.failWith;
    return this.entries;
  }
}

/** Same, with a version() that changes on every set(). */
export class VersionedDirectory extends StaticDirectory {
  version(): number {
    return this.rev;
  }
}

export interface RequestCall {
  targets: ResourceSelector[];
  receiver: { namespace: string; name: string };
  info: { event?: string; deliveryId?: string };
}

export class RecordingRequester implements ReconcileRequester {
  calls: RequestCall[] = [];
  failWith: Error | undefined;
  async request(targets: ResourceSelector[], receiver: { namespace: string; name: string }, info: { event?: string; deliveryId?: string }): Promise<number> {
    if (this.failWith) throw this.failWith;
    this.calls.push({ targets, receiver, info });
    return targets.length;
  }
}

/** A Logger that keeps every line as parsed JSON-able records. */
export function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const make = (base: Record<string, unknown>): Logger => {
    const emit = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
      // Round-trip through JSON like the real sink does.
      lines.push(JSON.parse(JSON.stringify({ level, msg, ...base, ...fields })) as Record<string, unknown>);
    };
    return {
      debug: emit('debug'),
      info: emit('info'),
      warn: emit('warn'),
      error: emit('error'),
      child: (f) => make({ ...base, ...f }),
    };
  };
  return { logger: make({}), lines };
}

/** An object the FilteringRequester can mark. */
export interface FakeObject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/**
 * A requester that behaves like the runtime's: resolves `*` + matchLabels against a fixed
 * set of objects, applies the Receiver's CEL filters through `info.accept`, and records
 * which objects it marked.
 */
export class FilteringRequester implements ReconcileRequester {
  marked: string[] = [];
  infos: ReconcileRequestInfo[] = [];
  constructor(private readonly objects: FakeObject[]) {}
  async request(targets: ResourceSelector[], _receiver: { namespace: string; name: string }, info: ReconcileRequestInfo): Promise<number> {
    this.infos.push(info);
    let n = 0;
    targets.forEach((t, i) => {
      for (const o of this.objects) {
        if (o.kind !== t.kind || o.namespace !== t.namespace) continue;
        if (t.name === '*') {
          if (!Object.entries(t.matchLabels ?? {}).every(([k, v]) => o.labels?.[k] === v)) continue;
        } else if (o.name !== t.name) continue;
        const res = { apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.name, namespace: o.namespace, labels: o.labels ?? {}, annotations: o.annotations ?? {} } };
        if (info.accept && !info.accept(i, res)) continue;
        this.marked.push(`${o.kind}/${o.namespace}/${o.name}`);
        n++;
      }
    });
    return n;
  }
}
