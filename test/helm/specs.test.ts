import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { commonMetadataDigest, parseHelmRelease, postRenderersDigest } from '../../shared/helm/release-spec.js';
import { parseHelmRepository } from '../../shared/helm/repository-spec.js';
import { helmChartFromRelease, parseHelmChart } from '../../shared/helm/chart-spec.js';
import { shortenReleaseName } from '../../shared/helm/names.js';
import { SpecError } from '../../shared/helm/errors.js';
import { ValidationError } from '../../shared/util/errors.js';
import { chartVersionMetadata, effectiveValuesFiles, versionWithMetadata } from '../../shared/helm/chart-build.js';

const hr = (spec: Record<string, unknown>, meta: Record<string, unknown> = {}) => ({
  apiVersion: 'helm.toolkit.fluxcd.io/v2',
  kind: 'HelmRelease',
  metadata: { name: 'podinfo', namespace: 'apps', ...meta },
  spec,
});
const chart = { spec: { chart: 'podinfo', sourceRef: { kind: 'HelmRepository', name: 'podinfo' } } };

describe('parseHelmRelease', () => {
  test('applies Flux defaults', () => {
    const r = parseHelmRelease(hr({ interval: '10m', chart }));
    assert.equal(r.releaseName, 'podinfo');
    assert.equal(r.releaseNamespace, 'apps');
    assert.equal(r.storageNamespace, 'apps');
    assert.equal(r.helmChartName, 'apps-podinfo');
    assert.equal(r.spec.timeoutMs, 300_000);
    assert.equal(r.spec.maxHistory, 5);
    assert.equal(r.spec.persistentClient, true);
    assert.equal(r.spec.install.serverSideApply, true);
    assert.equal(r.spec.install.crds, undefined);
    assert.equal(r.spec.upgrade.serverSideApply, 'auto');
    assert.equal(r.spec.upgrade.chartNameChangeStrategy, 'Reinstall');
    assert.equal(r.spec.uninstall.deletionPropagation, 'background');
    assert.equal(r.spec.postRenderStrategy, 'combined');
    assert.equal(r.spec.waitStrategy, 'poller');
    assert.equal(r.spec.driftDetection.mode, 'disabled');
    assert.equal(r.spec.chart?.spec.version, '*');
    assert.equal(r.spec.chart?.spec.reconcileStrategy, 'ChartVersion');
  });

  test('release name with targetNamespace, shortened past 53 characters', () => {
    const r = parseHelmRelease(hr({ interval: '1m', chart, targetNamespace: 'prod' }));
    assert.equal(r.releaseName, 'prod-podinfo');
    assert.equal(r.releaseNamespace, 'prod');
    assert.equal(r.storageNamespace, 'prod');
    const long = 'a'.repeat(60);
    const s = shortenReleaseName(long);
    assert.equal(s.length, 53);
    assert.match(s, /^a{40}-[0-9a-f]{12}$/);
    assert.equal(shortenReleaseName('short'), 'short');
  });

  test('valuesFrom defaults, dependsOn namespace, chartRef namespace', () => {
    const r = parseHelmRelease(hr({
      interval: '1m',
      chartRef: { kind: 'OCIRepository', name: 'podinfo' },
      dependsOn: [{ name: 'infra' }],
      valuesFrom: [{ kind: 'Secret', name: 's' }, { kind: 'ConfigMap', name: 'c', valuesKey: 'x.yaml', targetPath: 'a.b[0]', optional: true, literal: true }],
      values: { replicaCount: 0 },
    }));
    assert.deepEqual(r.spec.chartRef, { kind: 'OCIRepository', name: 'podinfo', namespace: 'apps' });
    assert.deepEqual(r.spec.dependsOn, [{ name: 'infra', namespace: 'apps' }]);
    assert.deepEqual(r.spec.valuesFrom[0], { kind: 'Secret', name: 's', valuesKey: 'values.yaml', optional: false, literal: false });
    assert.equal(r.spec.valuesFrom[1].targetPath, 'a.b[0]');
    assert.deepEqual(r.spec.values, { replicaCount: 0 });
  });

  test('unsupported and unknown fields are rejected, never ignored', () => {
    assert.throws(() => parseHelmRelease(hr({ interval: '1m', chart, kubeConfig: { secretRef: { name: 'k', keys: 'x' } } })), /unknown field "spec\.kubeConfig\.secretRef\.keys"/);
    assert.throws(() => parseHelmRelease(hr({ interval: '1m', chart, instal: {} })), /unknown field "spec\.instal"/);
    assert.deepEqual(parseHelmRelease(hr({ interval: '1m', chart: { spec: { ...chart.spec, verify: { provider: 'cosign', secretRef: { name: 'keys' } } } } })).spec.chart?.spec.verify, { provider: 'cosign', secretRef: { name: 'keys' } });
    assert.throws(() => parseHelmRelease(hr({ interval: '1m', chart: { spec: { ...chart.spec, verify: { provider: 'notation' } } } })), /spec\.chart\.spec\.verify\.provider 'notation' is not supported by Fluxless yet/);
  });

  test('kubeConfig and serviceAccountName are parsed; kubeConfig takes exactly one of secretRef or configMapRef', () => {
    const r = parseHelmRelease(hr({ interval: '1m', chart, serviceAccountName: 'deployer', kubeConfig: { secretRef: { name: 'k', key: 'kubeconfig' } } }));
    assert.equal(r.spec.serviceAccountName, 'deployer');
    assert.deepEqual(r.spec.kubeConfig, { secretRef: { name: 'k', key: 'kubeconfig' } });
    assert.deepEqual(parseHelmRelease(hr({ interval: '1m', chart, kubeConfig: { configMapRef: { name: 'eks' } } })).spec.kubeConfig, { configMapRef: { name: 'eks' } });
    const one = /spec\.kubeConfig: Invalid value: "object": exactly one of spec\.kubeConfig\.configMapRef or spec\.kubeConfig\.secretRef must be specified/;
    assert.throws(() => parseHelmRelease(hr({ interval: '1m', chart, kubeConfig: {} })), one);
    assert.throws(() => parseHelmRelease(hr({ interval: '1m', chart, kubeConfig: { secretRef: { name: 'k' }, configMapRef: { name: 'eks' } } })), one);
    assert.throws(() => parseHelmRelease(hr({ interval: '1m', chart, kubeConfig: { secretRef: {} } })), /spec\.kubeConfig\.secretRef\.name: Required value/);
    assert.throws(() => parseHelmRelease(hr({ interval: '1m', chart, serviceAccountName: 'x'.repeat(254) })), /spec\.serviceAccountName: Too long/);
  });

  test('CRD rules: enums, patterns, required, chart xor chartRef, strategies', () => {
    assert.throws(() => parseHelmRelease(hr({ chart })), /spec\.interval: Required value/);
    assert.throws(() => parseHelmRelease(hr({ interval: '5 minutes', chart })), /spec\.interval: Invalid value: "5 minutes"/);
    assert.throws(() => parseHelmRelease(hr({ interval: '1m', chart, install: { crds: 'Always' } })), /spec\.install\.crds: Unsupported value: "Always": supported values: "Skip", "Create", "CreateReplace"/);
    assert.throws(() => parseHelmRelease(hr({ interval: '1m' })), /either chart or chartRef must be set/);
    assert.throws(() => parseHelmRelease(hr({ interval: '1m', chart, chartRef: { kind: 'HelmChart', name: 'x' } })), /either chart or chartRef must be set/);
    assert.throws(() => parseHelmRelease(hr({ interval: '1m', chart, upgrade: { strategy: { name: 'RemediateOnFailure', retryInterval: '1m' } } })), /can only be set when .name is 'RetryOnFailure'/);
    assert.throws(() => parseHelmRelease(hr({ interval: '1m', chart, valuesFrom: [{ kind: 'Secret', name: 's', targetPath: 'a b' }] })), /targetPath: Invalid value/);
    assert.throws(() => parseHelmRelease(hr({ interval: '1m', chart, releaseName: 'x'.repeat(54) })), /releaseName: Too long/);
    assert.throws(() => parseHelmRelease({ ...hr({ interval: '1m', chart }), apiVersion: 'helm.toolkit.fluxcd.io/v2beta1' }), (e: unknown) => e instanceof ValidationError && /flux migrate/.test(e.hint ?? ''));
  });

  test('every problem is reported at once', () => {
    try {
      parseHelmRelease(hr({ interval: 'x', chart, maxHistory: 'five', test: { enable: 'yes' } }));
      assert.fail('expected a ValidationError');
    } catch (err) {
      assert.ok(err instanceof ValidationError);
      assert.match(err.message, /spec\.interval/);
      assert.match(err.message, /spec\.maxHistory/);
      assert.match(err.message, /spec\.test\.enable/);
    }
  });

  test('a storageNamespace other than the release namespace is refused with the reason', () => {
    assert.throws(() => parseHelmRelease(hr({ interval: '1m', chart, targetNamespace: 'prod', storageNamespace: 'apps' })), /storageNamespace 'apps' differs from the release namespace 'prod'/);
    assert.equal(parseHelmRelease(hr({ interval: '1m', chart, targetNamespace: 'prod', storageNamespace: 'prod' })).storageNamespace, 'prod');
  });

  // Golden digests: helm-controller postrender.Digest / CommonMetadataDigest on the same objects.
  test('post-renderers and commonMetadata digests equal helm-controller’s', () => {
    const r = parseHelmRelease(hr({
      interval: '1m',
      chart,
      postRenderers: [{ kustomize: { patches: [{ patch: '- op: add\n  path: /metadata/labels/x\n  value: <y&z>', target: { kind: 'Deployment', name: 'app' } }], images: [{ name: 'nginx', newTag: '1.2' }] } }],
      commonMetadata: { labels: { team: 'a', env: 'prod' }, annotations: { note: 'x' } },
    }));
    assert.equal(postRenderersDigest(r.spec.postRenderers), 'sha256:5c796a3bb160e93fc277bc966f4111e7a21134d5cfb86e2dc712b730cb726bcb');
    assert.equal(commonMetadataDigest(r.spec.commonMetadata), 'sha256:ecaa05cf0673cb3c0a5f86edb6e1f913383cc1ee18dafdad6f115527db27ff1e');
    assert.equal(postRenderersDigest([]), 'sha256:38e0b9de817f645c4bec37c0d4a3e58baecccb040f5718dc069a72c7385a0bed');
    assert.equal(commonMetadataDigest(undefined), postRenderersDigest([]));
  });
});

describe('generated HelmChart', () => {
  test('copies the template as helm-controller does', () => {
    const r = parseHelmRelease(hr({
      interval: '10m',
      chart: {
        metadata: { labels: { tier: 'web' }, annotations: { a: 'b' } },
        spec: { chart: './charts/app', sourceRef: { kind: 'GitRepository', name: 'repo', namespace: 'flux-system' }, reconcileStrategy: 'Revision', valuesFiles: ['a.yaml'] },
      },
    }));
    const c = helmChartFromRelease(r)!;
    assert.equal(c.metadata.name, 'apps-podinfo');
    assert.equal(c.metadata.namespace, 'flux-system');
    assert.deepEqual(c.metadata.labels, { tier: 'web', 'helm.toolkit.fluxcd.io/name': 'podinfo', 'helm.toolkit.fluxcd.io/namespace': 'apps' });
    assert.deepEqual(c.metadata.annotations, { a: 'b' });
    assert.equal(c.spec.interval, '10m');
    assert.deepEqual(c.spec.sourceRef, { kind: 'GitRepository', name: 'repo' });
    assert.equal(c.spec.reconcileStrategy, 'Revision');
    assert.equal(helmChartFromRelease(parseHelmRelease(hr({ interval: '1m', chartRef: { kind: 'HelmChart', name: 'x' } }))), undefined);
  });

  test('parseHelmChart validates and defaults', () => {
    const c = parseHelmChart({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmChart', metadata: { name: 'c', namespace: 'n' }, spec: { chart: 'podinfo', interval: '5m', sourceRef: { kind: 'HelmRepository', name: 'r' } } });
    assert.equal(c.spec.version, '*');
    assert.equal(c.spec.reconcileStrategy, 'ChartVersion');
    assert.throws(() => parseHelmChart({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmChart', metadata: { name: 'c' }, spec: { chart: 'x', interval: '5m', sourceRef: { kind: 'OCIRepository', name: 'r' } } }), /Unsupported value: "OCIRepository"/);
  });

  test('chart version build metadata follows source-controller', () => {
    assert.equal(chartVersionMetadata({ sourceKind: 'GitRepository', reconcileStrategy: 'Revision', sourceRevision: 'main@sha1:4e5cbb7b97d00a8b6cd6b9c0cbbf9e1b0cbbda1c', generation: 3 }), '4e5cbb7b97d0');
    assert.equal(chartVersionMetadata({ sourceKind: 'GitRepository', reconcileStrategy: 'Revision', sourceRevision: 'main@sha1:4e5cbb7b97d00a8b6cd6b9c0cbbf9e1b0cbbda1c', valuesFiles: ['a.yaml'], generation: 3 }), '4e5cbb7b97d0.3');
    assert.equal(chartVersionMetadata({ sourceKind: 'Bucket', reconcileStrategy: 'Revision', sourceRevision: 'sha256:0123456789abcdef0123', generation: 1 }), '0123456789ab');
    assert.equal(chartVersionMetadata({ sourceKind: 'HelmRepository', reconcileStrategy: 'ChartVersion', valuesFiles: ['values.yaml'], generation: 2 }), undefined);
    assert.equal(chartVersionMetadata({ sourceKind: 'HelmRepository', reconcileStrategy: 'ChartVersion', valuesFiles: ['a.yaml'], generation: 2 }), '2');
    assert.deepEqual(effectiveValuesFiles(['./values.yaml']), []);
    assert.equal(versionWithMetadata('v6.0.3', '4e5cbb7b97d0'), '6.0.3+4e5cbb7b97d0');
  });
});

describe('parseHelmRepository', () => {
  const repo = (spec: Record<string, unknown>) => ({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmRepository', metadata: { name: 'r', namespace: 'n' }, spec });

  test('defaults and URL normalization', () => {
    const r = parseHelmRepository(repo({ url: 'https://charts.example.com/stable' }));
    assert.equal(r.spec.type, 'default');
    assert.equal(r.spec.normalizedUrl, 'https://charts.example.com/stable/');
    assert.equal(r.spec.timeoutMs, 60_000);
    assert.equal(r.spec.intervalMs, 60_000);
    assert.equal(r.spec.passCredentials, false);
    assert.equal(parseHelmRepository(repo({ url: 'oci://ghcr.io/org/charts/', type: 'oci' })).spec.normalizedUrl, 'oci://ghcr.io/org/charts');
  });

  test('oci URLs need type oci (Stalled URLInvalid in Flux)', () => {
    assert.throws(
      () => parseHelmRepository(repo({ url: 'oci://ghcr.io/org/charts' })),
      (e: unknown) => e instanceof SpecError && e.reason === 'URLInvalid' && /'oci' URL scheme cannot be used with 'default' HelmRepository type/.test(e.message),
    );
    assert.throws(() => parseHelmRepository(repo({ url: 'ftp://x' })), /should match/);
    assert.throws(() => parseHelmRepository(repo({ url: 'https://x', timeout: '1h' })), /spec\.timeout: Invalid value/);
    assert.throws(() => parseHelmRepository(repo({ url: 'https://x', secretRef: {} })), /spec\.secretRef\.name: Required value/);
  });
});
