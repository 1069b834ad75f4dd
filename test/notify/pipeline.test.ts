/**
 * The notification pipeline's pure steps, as notification-controller does them: the event
 * shape from a recorded event, the metadata cleanup and rate-limit key, Alert matching
 * (sources, severity, labels, inclusion / exclusion lists with Go regexps), the RFC 0008
 * metadata merge, and the commit-status helpers.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import os from 'node:os';
import { changeRequestNumber, commitHash, defaultCommitStatus, evalCommitStatus, nameAndDescription, splitCamelcase } from '../../shared/notify/commit-status.js';
import { cleanupMetadata, rateLimitKey, shapeEvent, withoutToken, type NotificationEvent } from '../../shared/notify/event.js';
import { finishedEvent } from '../../shared/notify/finished.js';
import { matchAlerts } from '../../shared/notify/match.js';
import { combineEventMetadata } from '../../shared/notify/metadata.js';
import { providerSkips } from '../../shared/notify/deliver.js';
import { parseAlert, parseProvider, type AlertSpec } from '../../shared/notify/spec.js';
import type { KubeObject } from '../../shared/kube/object.js';
import type { ObjectRecord } from '../../shared/state/records.js';
// The parsers and evalCommitStatus run CEL synchronously; the product's callers load it first (cel/load.ts).
import '../../shared/cel/expression.js';

const SHA = 'f'.repeat(40);
const KS: KubeObject = {
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
  metadata: { name: 'apps', namespace: 'flux-system', labels: { team: 'a' }, annotations: { 'event.toolkit.fluxcd.io/summary': 'prod cluster', 'event.toolkit.fluxcd.io/commit': SHA, other: 'x' } },
  spec: { interval: '10m', path: './apps' },
};
const record: ObjectRecord = { object: KS, status: {} };

function alert(spec: Record<string, unknown>, name = 'a'): AlertSpec {
  return parseAlert({ apiVersion: 'notification.toolkit.fluxcd.io/v1beta3', kind: 'Alert', metadata: { name, namespace: 'flux-system' }, spec: { providerRef: { name: 'slack' }, ...spec } });
}

function ev(over: Partial<NotificationEvent> = {}): NotificationEvent {
  return { involvedObject: { kind: 'Kustomization', namespace: 'flux-system', name: 'apps', apiVersion: 'kustomize.toolkit.fluxcd.io/v1' }, severity: 'info', timestamp: '2026-01-02T03:04:05Z', message: 'Reconciliation finished', reason: 'ReconciliationSucceeded', reportingController: 'kustomize-controller', ...over };
}

describe('event shape', () => {
  test('a recorded event becomes what kustomize-controller would send', () => {
    const e = shapeEvent({ kind: 'Kustomization', namespace: 'flux-system', name: 'apps' }, { timestamp: '2026-01-02T03:04:05.678Z', severity: 'error', reason: 'BuildFailed', message: 'kustomize build failed', revision: `main@sha1:${SHA}` }, record)!;
    assert.deepEqual(e, {
      involvedObject: { kind: 'Kustomization', namespace: 'flux-system', name: 'apps', apiVersion: 'kustomize.toolkit.fluxcd.io/v1' },
      severity: 'error',
      timestamp: '2026-01-02T03:04:05Z',
      message: 'kustomize build failed',
      reason: 'BuildFailed',
      reportingController: 'kustomize-controller',
      reportingInstance: os.hostname(),
      metadata: { 'kustomize.toolkit.fluxcd.io/revision': `main@sha1:${SHA}`, 'event.toolkit.fluxcd.io/summary': 'prod cluster', 'event.toolkit.fluxcd.io/commit': SHA },
    });
    const src = shapeEvent({ kind: 'GitRepository', namespace: 'flux-system', name: 'repo' }, { timestamp: '2026-01-02T03:04:05Z', severity: 'info', reason: 'NewArtifact', message: 'stored' }, { object: { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'repo' } }, status: {} })!;
    assert.equal(src.reportingController, 'source-controller');
    assert.equal(src.metadata, undefined);
  });

  test('cleanup keeps event and object-group keys without checksum/digest; the rate-limit key follows Flux; the token is dropped after it', () => {
    const e = ev({ message: 'm', metadata: { 'kustomize.toolkit.fluxcd.io/revision': 'r1', 'kustomize.toolkit.fluxcd.io/token': 't1', 'kustomize.toolkit.fluxcd.io/digest': 'd', 'event.toolkit.fluxcd.io/summary': 's', 'helm.toolkit.fluxcd.io/x': 'y' } });
    const c = cleanupMetadata(e);
    assert.deepEqual(c.metadata, { 'kustomize.toolkit.fluxcd.io/revision': 'r1', 'kustomize.toolkit.fluxcd.io/token': 't1', 'event.toolkit.fluxcd.io/summary': 's' });
    const want = createHash('sha256').update('event/name=apps/namespace=flux-system/kind=Kustomization/message=m/revision=r1/token=t1').digest('hex');
    assert.equal(rateLimitKey(c), want);
    assert.notEqual(rateLimitKey(cleanupMetadata(ev({ message: 'm', metadata: { 'kustomize.toolkit.fluxcd.io/revision': 'r1', 'kustomize.toolkit.fluxcd.io/token': 't2' } }))), want, 'another token is another event');
    assert.deepEqual(withoutToken(c).metadata, { 'kustomize.toolkit.fluxcd.io/revision': 'r1', 'event.toolkit.fluxcd.io/summary': 's' });
  });

  test("the 'Reconciliation finished' event of a successful Kustomization reconcile", () => {
    const f = finishedEvent({ kind: 'Kustomization', namespace: 'flux-system', name: 'apps' }, record, { ready: true, reason: 'ReconciliationSucceeded', message: '', revision: `main@sha1:${SHA}`, wake: [] }, 2500, new Date('2026-01-02T03:04:05Z'))!;
    assert.equal(f.event.message, 'Reconciliation finished in 2.5s, next run in 10m0s');
    assert.deepEqual(f.event.metadata, { commit_status: 'update' });
    const shaped = shapeEvent({ kind: 'Kustomization', namespace: 'flux-system', name: 'apps' }, f.event, f.record)!;
    assert.equal(shaped.metadata!['kustomize.toolkit.fluxcd.io/commit_status'], 'update');
    assert.equal(finishedEvent({ kind: 'GitRepository', namespace: 'x', name: 'y' }, record, { ready: true, reason: 'Succeeded', message: '', wake: [] }, 1, new Date()), undefined);
    assert.equal(finishedEvent({ kind: 'Kustomization', namespace: 'x', name: 'y' }, record, { ready: false, reason: 'BuildFailed', message: '', wake: [] }, 1, new Date()), undefined);
  });
});

describe('alert matching', () => {
  test('kind, namespace, name or *, matchLabels, severity', () => {
    const byName = alert({ eventSources: [{ kind: 'Kustomization', name: 'apps' }] }, 'by-name');
    const star = alert({ eventSources: [{ kind: 'Kustomization', name: '*', matchLabels: { team: 'b' } }] }, 'star-labels');
    const errors = alert({ eventSeverity: 'error', eventSources: [{ kind: 'Kustomization', name: '*' }] }, 'errors');
    const otherNs = alert({ eventSources: [{ kind: 'Kustomization', name: '*', namespace: 'other' }] }, 'other-ns');
    const suspended = alert({ suspend: true, eventSources: [{ kind: 'Kustomization', name: '*' }] }, 'suspended');
    const names = (a: AlertSpec[], e: NotificationEvent, labels = { team: 'a' }) => matchAlerts(a, e, labels).matched.map((x) => x.name);
    const all = [byName, star, errors, otherNs, suspended];
    assert.deepEqual(names(all, ev()), ['by-name']);
    assert.deepEqual(names(all, ev({ severity: 'error' })), ['by-name', 'errors']);
    assert.deepEqual(names(all, ev(), { team: 'b' }), ['by-name', 'star-labels']);
    assert.deepEqual(names(all, ev({ involvedObject: { kind: 'GitRepository', namespace: 'flux-system', name: 'apps' } })), []);
  });

  test('inclusion and exclusion lists (Go regexps, unanchored); an invalid entry is skipped and reported', () => {
    const inc = alert({ eventSources: [{ kind: 'Kustomization', name: '*' }], inclusionList: ['^Applied'] }, 'inc');
    const exc = alert({ eventSources: [{ kind: 'Kustomization', name: '*' }], exclusionList: ['(?i)FINISHED'] }, 'exc');
    const bad = alert({ eventSources: [{ kind: 'Kustomization', name: '*' }], inclusionList: ['(a', 'Recon'] }, 'bad');
    const out = matchAlerts([inc, exc, bad], ev(), undefined);
    assert.deepEqual(out.matched.map((a) => a.name), ['bad']);
    assert.deepEqual(out.warnings, [{ alert: bad, reason: 'InvalidConfig', message: 'failed to compile inclusion regex: (a' }]);
    assert.deepEqual(matchAlerts([inc, exc], ev({ message: 'Applied revision main@sha1:x' }), undefined).matched.map((a) => a.name), ['inc', 'exc']);
  });

  test('metadata merge: annotations < eventMetadata < summary < controller metadata, conflicts reported', () => {
    const a = alert({ eventSources: [{ kind: 'Kustomization', name: '*' }], eventMetadata: { env: 'prod', summary: 'from alert', revision: 'alert-rev' }, summary: 'deprecated summary' });
    const { event, conflicts } = combineEventMetadata(ev({ metadata: { 'event.toolkit.fluxcd.io/summary': 'annotation', 'kustomize.toolkit.fluxcd.io/revision': 'r1' } }), a);
    assert.deepEqual(event.metadata, { summary: 'deprecated summary', env: 'prod', revision: 'r1' });
    assert.deepEqual(conflicts.map((c) => c.key), ['revision', 'summary']);
  });

  test('provider filters: commit-status updates only to git and generic providers; commit-status providers need a commit, an update or an error', () => {
    const update = ev({ metadata: { 'kustomize.toolkit.fluxcd.io/commit_status': 'update' } });
    assert.ok(providerSkips('slack', update));
    assert.equal(providerSkips('generic', update), undefined);
    assert.equal(providerSkips('github', update), undefined);
    assert.ok(providerSkips('github', ev()));
    assert.equal(providerSkips('github', ev({ severity: 'error' })), undefined);
    assert.equal(providerSkips('gitlab', ev({ metadata: { 'event.toolkit.fluxcd.io/commit': SHA } })), undefined);
    assert.ok(providerSkips('githubpullrequestcomment', ev({ severity: 'error' })));
    assert.equal(providerSkips('githubpullrequestcomment', ev({ metadata: { 'event.toolkit.fluxcd.io/change_request': '3' } })), undefined);
  });
});

describe('commit status helpers', () => {
  test('default id, hash extraction, description, CEL expression', () => {
    assert.equal(defaultCommitStatus('0c9c2e41-aaaa-bbbb', ev()), 'kustomization/apps/0c9c2e41');
    assert.equal(commitHash(`main@sha1:${SHA}`), SHA);
    assert.equal(commitHash(`main/${SHA}`), SHA);
    assert.equal(commitHash(SHA), SHA);
    assert.throws(() => commitHash(`sha256:${'a'.repeat(64)}`), /failed to extract commit hash/);
    assert.deepEqual(splitCamelcase('HealthCheckFailed'), ['Health', 'Check', 'Failed']);
    assert.deepEqual(splitCamelcase('PDFLoader'), ['PDF', 'Loader']);
    assert.deepEqual(nameAndDescription(ev({ reason: 'ArtifactFailed' })), { name: 'kustomization/apps', description: 'artifact failed' });
    const provider: KubeObject = { apiVersion: 'notification.toolkit.fluxcd.io/v1beta3', kind: 'Provider', metadata: { name: 'gh', uid: 'u-1' }, spec: {} };
    assert.equal(evalCommitStatus("event.involvedObject.kind + '/' + event.involvedObject.name + '/' + provider.metadata.uid", ev(), provider, KS), 'Kustomization/apps/u-1');
    assert.throws(() => evalCommitStatus('1 + 1', ev(), provider, KS), /must be a string/);
    assert.equal(changeRequestNumber(ev({ metadata: { change_request: '42' } })), 42);
  });

  test('Provider and Alert validation names the field', () => {
    const p = (spec: Record<string, unknown>) => parseProvider({ apiVersion: 'notification.toolkit.fluxcd.io/v1beta3', kind: 'Provider', metadata: { name: 'p', namespace: 'ns' }, spec });
    assert.equal(p({ type: 'slack', timeout: '30s' }).timeoutMs, 30_000);
    assert.equal(p({ type: 'slack' }).timeoutMs, 15_000);
    assert.throws(() => p({ type: 'slack', commitStatusExpr: "'x'" }), /spec\.commitStatusExpr is only supported/);
    assert.throws(() => p({ type: 'github', commitStatusExpr: 'event.' }), /spec\.commitStatusExpr is not a valid CEL expression/);
    assert.throws(() => p({ type: 'sentry' }), /spec\.type 'sentry' is a Flux provider type Fluxless does not send to yet/);
    assert.throws(() => p({ type: 'slack', timeout: '1h' }), /spec\.timeout/);
    assert.throws(() => alert({ eventSources: [{ kind: 'Deployment', name: 'x' }] }), /spec\.eventSources\[0\]\.kind must be one of/);
    assert.throws(() => alert({ eventSeverity: 'warn', eventSources: [] }), /spec\.eventSeverity/);
  });
});
