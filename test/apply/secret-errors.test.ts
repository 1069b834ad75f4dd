/**
 * Issue 9 finding 5: Secret values never leave the engine in an error text. Against the
 * real kube-apiserver, whose structured-merge-diff and validation errors echo the values
 * it was sent ("expected string, got &value.valueUnstructured{Value:9389136384292}").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplyFailedError, ValidationFailedError } from '../../shared/apply/engine.js';
import { ApplyEngine } from '../../shared/apply/engine.js';
import type { KubeClient, RequestOptions } from '../../shared/kube/client.js';
import type { KubeObject } from '../../shared/kube/object.js';
import { configMap, engineFor } from './helpers.js';

const secret = (ns: string, name: string, fields: Record<string, unknown>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: ns },
  ...fields,
});

/** Everything about an error a user, a log line or the state file could see. */
function visible(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let i = 0; cur instanceof Error && i < 10; i++) {
    const e = cur as Error & Record<string, unknown>;
    parts.push(e.message, e.stack ?? '', String(e.hint ?? ''), JSON.stringify(e.causes ?? []), JSON.stringify(e.failures ?? []));
    cur = e.cause;
  }
  return parts.join('\n');
}

/** The values used below, in the forms the API server prints them. */
const LEAKS = /9389136384292|9\.389136384292e\+12|hunter2|aHVudGVyMi|1\.5e-07|nested-secret|listed-secret|scalar-secret|c2NhbGFyLXNlY3JldA/;

test('a number-like (or otherwise mistyped) Secret value fails validation without the value in the error', async (t) => {
  const { engine, ns } = await engineFor(t);
  const objs = [
    configMap(ns, 'fine', { k: 'v' }),
    // The case: a substituted number in stringData.
    secret(ns, 'number', { stringData: { token: 9389136384292, user: 'hunter2-user' } }),
    secret(ns, 'float', { stringData: { ratio: 1.5e-7 } }),
    secret(ns, 'nested', { stringData: { token: { inner: 'nested-secret' } } }),
    secret(ns, 'listed', { stringData: { token: ['listed-secret'] } }),
    secret(ns, 'scalar', { stringData: 'scalar-secret' }),
    secret(ns, 'data-scalar', { data: Buffer.from('scalar-secret').toString('base64') }),
    // Not base64 (newer API servers quote the JSON around the error position).
    secret(ns, 'bad-b64', { data: { password: 'hunter2!!', other: 'aHVudGVyMg==' } }),
  ];
  const err = await engine.applyAll(objs).then(
    () => assert.fail('the batch must fail validation'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ValidationFailedError, String(err));
  assert.doesNotMatch(visible(err), LEAKS);
  // Still actionable: each Secret and its field are named.
  const bySubject = Object.fromEntries(err.failures.map((f) => [f.subject, f.reason]));
  assert.deepEqual(Object.keys(bySubject).sort(), ['bad-b64', 'data-scalar', 'float', 'listed', 'nested', 'number', 'scalar'].map((n) => `Secret/${ns}/${n}`).sort());
  assert.match(bySubject[`Secret/${ns}/number`]!, /\.stringData\.token: expected string, got \*\*\*/);
  assert.match(bySubject[`Secret/${ns}/scalar`]!, /\.stringData: expected map/);
  assert.match(err.message, new RegExp(`Secret/${ns}/listed: .*\\.stringData\\.token`));
  // Nothing was written.
  assert.equal(await engine.get(objs[0]!), undefined);
});

test('a Secret the API server rejects on write: the ApplyFailedError and its cause carry no value', async (t) => {
  const { client, ns } = await engineFor(t);
  // The dry-run sees the valid Secret; the write (not a dry-run) is sent with a number in
  // it, so the real API server answers the write with its own error text echoing the value.
  const corrupting: KubeClient = {
    server: client.server,
    get requestCount() {
      return client.requestCount;
    },
    close: () => client.close(),
    request<T>(method: string, path: string, ro: RequestOptions = {}): Promise<T> {
      if (method === 'PATCH' && path.includes('/secrets/') && ro.contentType === 'application/apply-patch+yaml' && !ro.query?.dryRun) {
        const body = structuredClone(ro.body) as { stringData: Record<string, unknown> };
        body.stringData.token = 9389136384292;
        return client.request<T>(method, path, { ...ro, body });
      }
      return client.request<T>(method, path, ro);
    },
  };
  const engine = new ApplyEngine(corrupting, { waitIntervalMs: 100 });
  const s = secret(ns, 'creds', { stringData: { token: '9389136384292', password: 'hunter2-password' } });
  const err = await engine.applyAll([s]).then(
    () => assert.fail('the write must fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplyFailedError, String(err));
  assert.match(err.message, new RegExp(`^Secret/${ns}/creds apply failed: .*\\.stringData\\.token: expected string, got \\*\\*\\*`));
  assert.ok(err.cause instanceof Error && /stringData\.token/.test(err.cause.message), 'the cause is the API error, masked');
  assert.doesNotMatch(visible(err), LEAKS);
});
