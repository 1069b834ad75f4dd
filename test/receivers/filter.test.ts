/** Receiver CEL filters (resourceFilter and resources[].filter) as notification-controller applies them. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createReceiverApp } from '../../shared/receivers/app.js';
import { FilteringRequester, StaticDirectory, captureLogger, entry, hookPath } from './helpers.js';
import type { FakeObject, ReceiverManifest } from './helpers.js';

const TOKEN = 'filters-' + randomBytes(8).toString('hex');
const NS = 'flux-system';
const OBJECTS: FakeObject[] = [
  { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'OCIRepository', namespace: NS, name: 'frontend', labels: { tier: 'web' }, annotations: { 'image/name': 'acme/frontend' } },
  { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'OCIRepository', namespace: NS, name: 'backend', labels: { tier: 'web' }, annotations: { 'image/name': 'acme/backend' } },
  { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'OCIRepository', namespace: NS, name: 'db', labels: { tier: 'data' } },
  { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', namespace: NS, name: 'fleet' },
];

function setup(m: Omit<ReceiverManifest, 'name' | 'type'>) {
  const requester = new FilteringRequester(OBJECTS);
  const app = createReceiverApp({ directory: new StaticDirectory([entry({ name: 'hook', type: 'generic', ...m }, TOKEN)]), requester, logger: captureLogger().logger });
  const send = (body: string, contentType = 'application/json') =>
    app.request(hookPath(TOKEN, 'hook', NS), { method: 'POST', body, headers: { 'content-type': contentType } });
  return { requester, send };
}

describe('Receiver CEL filters', () => {
  test('resourceFilter is evaluated for each object of a wildcard selector, with the JSON body as req', async () => {
    const { requester, send } = setup({
      resources: [{ kind: 'OCIRepository', name: '*', matchLabels: { tier: 'web' } }],
      spec: { resourceFilter: "res.metadata.annotations['image/name'] == req.repository" },
    });
    const res = await send(JSON.stringify({ repository: 'acme/backend' }));
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { marked: number }).marked, 1);
    assert.deepEqual(requester.marked, ['OCIRepository/flux-system/backend']);
  });

  test('the top-level and the per-resource filter are ANDed; a resource without a filter gets only the top one', async () => {
    const { requester, send } = setup({
      resources: [
        { kind: 'OCIRepository', name: '*', matchLabels: {}, filter: "res.metadata.labels.tier == 'web'" },
        { kind: 'GitRepository', name: 'fleet' },
      ],
      spec: { resourceFilter: "req.action == 'push' && !res.metadata.name.startsWith('back')" },
    });
    await send(JSON.stringify({ action: 'push' }));
    assert.deepEqual(requester.marked, ['OCIRepository/flux-system/frontend', 'GitRepository/flux-system/fleet']);
    requester.marked.length = 0;
    await send(JSON.stringify({ action: 'delete' }));
    assert.deepEqual(requester.marked, []);
  });

  test('req is {} when the body is not application/json (Flux only parses JSON)', async () => {
    const { requester, send } = setup({
      resources: [{ kind: 'GitRepository', name: 'fleet', filter: 'size(req) == 0' }],
    });
    const res = await send('action=push', 'application/x-www-form-urlencoded');
    assert.equal(res.status, 200);
    assert.deepEqual(requester.marked, ['GitRepository/flux-system/fleet']);
  });

  test('with filters, a body that claims JSON but is not an object is a 500, nothing marked', async () => {
    const { requester, send } = setup({ resources: [{ kind: 'GitRepository', name: 'fleet', filter: 'true' }] });
    const res = await send('{not json');
    assert.equal(res.status, 500);
    assert.match(((await res.json()) as { error: string }).error, /failed to parse request body as JSON/);
    assert.equal(requester.infos.length, 0);
    assert.equal((await send('[1, 2]')).status, 500);
  });

  test('a filter that fails to evaluate (missing field) is a 500 naming the expression and position', async () => {
    const { requester, send } = setup({ resources: [{ kind: 'GitRepository', name: 'fleet', filter: "req.ref == 'main'" }] });
    const res = await send('{}');
    assert.equal(res.status, 500);
    assert.match(((await res.json()) as { error: string }).error, /failed to evaluate the CEL expression "req\.ref == 'main'" at 1:4/);
    assert.deepEqual(requester.marked, []);
  });

  test('without filters the requester gets no accept function (every matched object is marked)', async () => {
    const { requester, send } = setup({ resources: [{ kind: 'OCIRepository', name: '*', matchLabels: { tier: 'web' } }] });
    await send('{}');
    assert.equal(requester.infos[0].accept, undefined);
    assert.deepEqual(requester.marked, ['OCIRepository/flux-system/frontend', 'OCIRepository/flux-system/backend']);
  });
});
