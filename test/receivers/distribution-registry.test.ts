/**
 * The real docker-registry (distribution 2.8) sends its notifications to a Fluxless
 * `distribution` Receiver served by the hardened server: pushing an image over the v2 API
 * reaches the requester with the repository and tag, blob uploads do not.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createReceiverApp } from '../../shared/receivers/app.js';
import type { ReconcileRequestInfo, ReconcileRequester } from '../../shared/receivers/app.js';
import { startReceiverServer } from '../../shared/receivers/server.js';
import type { ReceiverServer } from '../../shared/receivers/server.js';
import type { ResourceSelector } from '../../shared/receivers/spec.js';
import { StaticDirectory, captureLogger, entry, hookPath } from './helpers.js';
import { REGISTRY_BIN, pushImage, startNotifyingRegistry } from './notifying-registry.js';
import type { NotifyingRegistry } from './notifying-registry.js';

const TOKEN = 'distribution-' + randomBytes(16).toString('hex');

/** Records requests and lets a test wait for the next one. */
class WaitingRequester implements ReconcileRequester {
  calls: Array<{ targets: ResourceSelector[]; info: ReconcileRequestInfo }> = [];
  private waiters: Array<() => void> = [];
  async request(targets: ResourceSelector[], _r: { namespace: string; name: string }, info: ReconcileRequestInfo): Promise<number> {
    this.calls.push({ targets, info });
    for (const w of this.waiters.splice(0)) w();
    return targets.length;
  }
  next(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }
}

describe('docker-registry notifications to a distribution Receiver', { skip: !existsSync(REGISTRY_BIN) && `${REGISTRY_BIN} is not installed` }, () => {
  let server: ReceiverServer;
  let registry: NotifyingRegistry;
  const requester = new WaitingRequester();
  const log = captureLogger();

  before(async () => {
    const receiver = entry({
      name: 'registry',
      type: 'distribution',
      resources: [{ kind: 'ImageRepository', name: '*', matchLabels: { 'registry.fluxless.dev/watch': 'true' } }],
    }, TOKEN);
    const app = createReceiverApp({ directory: new StaticDirectory([receiver]), requester, logger: log.logger });
    server = await startReceiverServer({ app, logger: log.logger });
    registry = await startNotifyingRegistry(server.url + hookPath(TOKEN, 'registry', 'flux-system'), `Bearer ${TOKEN}`);
  });
  after(async () => {
    await registry?.stop();
    await server?.close();
  });

  test('a pushed tag arrives with its repository, tag and digest', { timeout: 60_000 }, async () => {
    const arrived = requester.next();
    const digest = await pushImage(registry.host, 'team/podinfo', '6.7.1');
    await arrived;
    const artifacts = requester.calls.flatMap((c) => c.info.artifacts ?? []);
    assert.deepEqual(artifacts.find((a) => a.tag === '6.7.1'), {
      image: `${registry.host}/team/podinfo`,
      host: registry.host,
      repository: 'team/podinfo',
      tag: '6.7.1',
      digest,
      action: 'push',
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
    });
    // Only manifests count: the two blob uploads produced no artifact.
    assert.ok(artifacts.every((a) => a.mediaType === 'application/vnd.oci.image.manifest.v1+json'));
    assert.deepEqual(requester.calls[0].targets, [
      { apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImageRepository', name: '*', namespace: 'flux-system', matchLabels: { 'registry.fluxless.dev/watch': 'true' } },
    ]);
    // The registry's deliveries were authenticated and answered 2xx (accepted or ignored), none refused.
    assert.ok(!log.lines.some((l) => l.msg === 'webhook rejected'), JSON.stringify(log.lines.filter((l) => l.msg === 'webhook rejected')));
  });
});
