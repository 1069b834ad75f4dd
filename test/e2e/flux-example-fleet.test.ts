/**
 * Flux's example fleet (fluxcd/flux2-kustomize-helm-example, main) through the full local
 * runtime: the repository split by an ArtifactGenerator into `infrastructure` and `apps`
 * ExternalArtifacts, Kustomizations on them (infra-controllers -> infra-configs -> apps
 * with dependsOn, the ClusterIssuer patch of the staging cluster), served by the harness
 * git server. HelmReleases are replaced by plain manifests (Deployments scaled to 0, a CRD
 * standing in for cert-manager's). A change under `apps/` reconciles only the apps
 * Kustomization, a change under `infrastructure/` only the infrastructure ones; a removed
 * API version gets the migrate message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getCondition, type ObjectRecord } from '../../shared/state/records.js';
import { e2e, type E2E } from './helpers.js';

function fleetLayout(ns: string, repoUrl: string, group: string, podinfoMessage: string, issuerEmail: string): Record<string, string> {
  const kustomizationYaml = (resources: string[], extra = '') =>
    `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n${resources.map((r) => `  - ${r}`).join('\n')}\n${extra}`;
  const deploy = (name: string, extra = '') =>
    [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata:',
      `  name: ${name}`,
      `  namespace: ${ns}`,
      'spec:',
      '  replicas: 0',
      `  selector: {matchLabels: {app: ${name}}}`,
      '  template:',
      `    metadata: {labels: {app: ${name}}}`,
      '    spec:',
      '      containers:',
      `        - name: ${name}`,
      '          image: ghcr.io/stefanprodan/podinfo:6.7.0',
      extra,
    ]
      .filter(Boolean)
      .join('\n') + '\n';
  const ks = (name: string, source: string, path: string, extra: string[] = []) =>
    [
      '---',
      'apiVersion: kustomize.toolkit.fluxcd.io/v1',
      'kind: Kustomization',
      'metadata:',
      `  name: ${name}`,
      `  namespace: ${ns}`,
      'spec:',
      ...extra,
      '  interval: 1h',
      '  retryInterval: 2m',
      '  timeout: 5m',
      '  sourceRef:',
      '    kind: ExternalArtifact',
      `    name: ${source}`,
      `  path: ${path}`,
      '  prune: true',
    ].join('\n') + '\n';
  return {
    '.sourceignore': '# Flux ignore\n/*\n!/apps/\n!/clusters/\n!/infrastructure/\n',
    // clusters/dev: what `flux bootstrap` and the example put there.
    'clusters/dev/flux-system/kustomization.yaml': kustomizationYaml(['gotk-sync.yaml'], 'labels:\n  - pairs:\n      toolkit.fluxcd.io/tenant: sre-team\n'),
    'clusters/dev/flux-system/gotk-sync.yaml': [
      'apiVersion: source.toolkit.fluxcd.io/v1',
      'kind: GitRepository',
      'metadata:',
      '  name: flux-system',
      `  namespace: ${ns}`,
      'spec:',
      '  interval: 1m0s',
      '  ref:',
      '    branch: main',
      `  url: ${repoUrl}`,
      '---',
      'apiVersion: kustomize.toolkit.fluxcd.io/v1',
      'kind: Kustomization',
      'metadata:',
      '  name: flux-system',
      `  namespace: ${ns}`,
      'spec:',
      '  interval: 10m0s',
      '  path: ./clusters/dev',
      '  prune: true',
      '  sourceRef:',
      '    kind: GitRepository',
      '    name: flux-system',
      '',
    ].join('\n'),
    'clusters/dev/receiver.yaml': [
      'apiVersion: notification.toolkit.fluxcd.io/v1',
      'kind: Receiver',
      'metadata:',
      '  name: github',
      `  namespace: ${ns}`,
      'spec:',
      '  type: github',
      '  events: ["push", "ping"]',
      '  secretRef:',
      '    name: webhook-token',
      '  resources:',
      '    - kind: GitRepository',
      '      name: flux-system',
      '',
    ].join('\n'),
    'clusters/dev/artifacts.yaml': [
      '---',
      'apiVersion: source.extensions.fluxcd.io/v1beta1',
      'kind: ArtifactGenerator',
      'metadata:',
      '  name: flux-system',
      `  namespace: ${ns}`,
      'spec:',
      '  sources:',
      '    - alias: monorepo',
      '      kind: GitRepository',
      '      name: flux-system',
      '  artifacts:',
      '    - name: infrastructure',
      '      originRevision: "@monorepo"',
      '      copy:',
      '        - from: "@monorepo/infrastructure/**"',
      '          to: "@artifact/"',
      '    - name: apps',
      '      originRevision: "@monorepo"',
      '      copy:',
      '        - from: "@monorepo/apps/base/**"',
      '          to: "@artifact/base/"',
      '        - from: "@monorepo/apps/staging/**"',
      '          to: "@artifact/staging/"',
      '',
    ].join('\n'),
    'clusters/dev/infrastructure.yaml':
      ks('infra-controllers', 'infrastructure', './controllers', ['  wait: true']) +
      ks('infra-configs', 'infrastructure', './configs', [
        '  dependsOn:',
        '    - name: infra-controllers',
        '  patches:',
        '    - patch: |',
        '        - op: replace',
        '          path: /spec/acme/server',
        '          value: https://acme-staging-v02.api.letsencrypt.org/directory',
        '      target:',
        '        kind: ClusterIssuer',
        '        name: letsencrypt',
      ]),
    'clusters/dev/apps.yaml': ks('apps', 'apps', './staging', ['  dependsOn:', '    - name: infra-configs', '  wait: true']),
    // A manifest still on a removed API version.
    'clusters/dev/legacy.yaml': [
      'apiVersion: kustomize.toolkit.fluxcd.io/v1beta2',
      'kind: Kustomization',
      'metadata:',
      '  name: legacy',
      `  namespace: ${ns}`,
      'spec:',
      '  interval: 1h',
      '  path: ./legacy',
      '  prune: true',
      '  sourceRef:',
      '    kind: GitRepository',
      '    name: flux-system',
      '',
    ].join('\n'),
    // apps/: base + per-cluster overlays (plain manifests instead of the podinfo HelmRelease).
    'apps/base/podinfo/kustomization.yaml': kustomizationYaml(['deployment.yaml', 'service.yaml']),
    'apps/base/podinfo/deployment.yaml': deploy('podinfo', '          env:\n            - name: PODINFO_UI_MESSAGE\n              value: base'),
    'apps/base/podinfo/service.yaml': `apiVersion: v1\nkind: Service\nmetadata:\n  name: podinfo\n  namespace: ${ns}\nspec:\n  selector: {app: podinfo}\n  ports: [{port: 9898}]\n`,
    'apps/staging/kustomization.yaml': kustomizationYaml(['../base/podinfo'], 'patches:\n  - path: podinfo-values.yaml\n    target:\n      kind: Deployment\n'),
    'apps/staging/podinfo-values.yaml': `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\nspec:\n  template:\n    spec:\n      containers:\n        - name: podinfo\n          env:\n            - name: PODINFO_UI_MESSAGE\n              value: ${podinfoMessage}\n`,
    'apps/production/kustomization.yaml': kustomizationYaml(['../base/podinfo'], 'patches:\n  - path: podinfo-values.yaml\n    target:\n      kind: Deployment\n'),
    'apps/production/podinfo-values.yaml': `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\nspec:\n  replicas: 0\n`,
    // infrastructure/: controllers (a CRD standing in for cert-manager's) and their configs.
    'infrastructure/controllers/kustomization.yaml': kustomizationYaml(['cert-manager.yaml', 'envoy-gateway.yaml']),
    'infrastructure/controllers/cert-manager.yaml':
      [
        'apiVersion: apiextensions.k8s.io/v1',
        'kind: CustomResourceDefinition',
        'metadata:',
        `  name: clusterissuers.${group}`,
        'spec:',
        `  group: ${group}`,
        '  scope: Cluster',
        '  names: {plural: clusterissuers, singular: clusterissuer, kind: ClusterIssuer, listKind: ClusterIssuerList}',
        '  versions:',
        '    - name: v1',
        '      served: true',
        '      storage: true',
        '      schema:',
        '        openAPIV3Schema:',
        '          type: object',
        '          properties:',
        '            spec: {type: object, x-kubernetes-preserve-unknown-fields: true}',
        '---',
      ].join('\n') +
      '\n' +
      deploy('cert-manager'),
    'infrastructure/controllers/envoy-gateway.yaml': deploy('envoy-gateway'),
    'infrastructure/configs/kustomization.yaml': kustomizationYaml(['cluster-issuers.yaml', 'gateway.yaml']),
    'infrastructure/configs/cluster-issuers.yaml': `apiVersion: ${group}/v1\nkind: ClusterIssuer\nmetadata:\n  name: letsencrypt\nspec:\n  acme:\n    email: ${issuerEmail}\n    server: https://acme-v02.api.letsencrypt.org/directory\n`,
    'infrastructure/configs/gateway.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gateway\n  namespace: ${ns}\ndata:\n  listener: http\n`,
  };
}

interface Snapshot {
  reconciles: number;
  applied?: string;
}

async function snapshot(x: E2E, name: string): Promise<Snapshot> {
  const r = await x.record('Kustomization', name);
  return { reconciles: (r?.status.history ?? []).reduce((n, h) => n + h.totalReconciliations, 0), applied: r?.status.lastAppliedRevision };
}

const readyAt = (r: ObjectRecord | undefined, revision: string | undefined) =>
  Boolean(revision) && getCondition(r, 'Ready')?.status === 'True' && r?.status.lastAppliedRevision === revision;

test("Flux's example fleet split by an ArtifactGenerator: each part reconciles only when its files change", async (t) => {
  const x = await e2e(t);
  const group = `cert-manager-${x.ns}.fluxless.test`;
  t.after(() => x.client.request('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/clusterissuers.${group}`).catch(() => undefined));
  await x.repo.commit(fleetLayout(x.ns, x.repo.url, group, 'staging', 'ops@example.com'), 'the example fleet');
  await x.repo.push();
  const rt = await x.start();

  const ea = async (name: string) => (await x.record('ExternalArtifact', name))?.status.artifact;
  await x.waitFor(
    'apps, infra-controllers and infra-configs Ready on their ExternalArtifacts',
    async () =>
      readyAt(await x.record('Kustomization', 'infra-controllers'), (await ea('infrastructure'))?.revision) &&
      readyAt(await x.record('Kustomization', 'infra-configs'), (await ea('infrastructure'))?.revision) &&
      readyAt(await x.record('Kustomization', 'apps'), (await ea('apps'))?.revision),
    120_000,
  );
  // What the example builds, through the generated artifacts.
  const issuer = await x.client.request<{ spec: { acme: { server: string } } }>('GET', `/apis/${group}/v1/clusterissuers/letsencrypt`);
  assert.equal(issuer.spec.acme.server, 'https://acme-staging-v02.api.letsencrypt.org/directory', 'the staging patch of infra-configs');
  const podinfo = await x.client.request<{ spec: { template: { spec: { containers: Array<{ env: Array<{ value: string }> }> } } } }>('GET', `/apis/apps/v1/namespaces/${x.ns}/deployments/podinfo`);
  assert.equal(podinfo.spec.template.spec.containers[0].env[0].value, 'staging');
  const head1 = `main@sha1:${await x.repo.head()}`;
  assert.equal((await ea('apps'))?.metadata?.['org.opencontainers.image.revision'], head1);
  assert.match((await ea('apps'))!.revision, /^latest@sha256:[0-9a-f]{64}$/);
  const gen = await x.record('ArtifactGenerator', 'flux-system');
  assert.equal(getCondition(gen, 'Ready')?.message, 'reconciliation succeeded, generated 2 artifact(s)');
  assert.equal(getCondition(await x.record('Kustomization', 'apps'), 'Ready')?.message, `Applied revision: ${(await ea('apps'))!.revision}`);
  assert.equal((await x.record('Kustomization', 'apps'))?.status.lastAppliedOriginRevision, head1);

  // The removed API version is refused with the version to migrate to.
  const legacy = await x.record('Kustomization', 'legacy');
  assert.equal(getCondition(legacy, 'Ready')?.reason, 'InvalidSpec');
  assert.match(getCondition(legacy, 'Ready')?.message ?? '', /kustomize\.toolkit\.fluxcd\.io\/v1beta2 is no longer served by Flux 2\.9: migrate the manifest to kustomize\.toolkit\.fluxcd\.io\/v1 \(flux migrate does it\)/);

  // 1. A change under apps/ only.
  const infraEa1 = await ea('infrastructure');
  const apps1 = (await ea('apps'))!.revision;
  const infraCtl1 = await snapshot(x, 'infra-controllers');
  const infraCfg1 = await snapshot(x, 'infra-configs');
  const appsSnap1 = await snapshot(x, 'apps');
  await x.repo.commit({ 'apps/staging/podinfo-values.yaml': fleetLayout(x.ns, x.repo.url, group, 'changed', '')['apps/staging/podinfo-values.yaml']! }, 'apps only');
  await x.repo.push();
  assert.equal((await x.push(rt)).status, 200);
  await x.waitFor('apps at the new apps artifact', async () => {
    const a = await ea('apps');
    return Boolean(a && a.revision !== apps1) && readyAt(await x.record('Kustomization', 'apps'), a!.revision);
  });
  const podinfo2 = await x.client.request<typeof podinfo>('GET', `/apis/apps/v1/namespaces/${x.ns}/deployments/podinfo`);
  assert.equal(podinfo2.spec.template.spec.containers[0].env[0].value, 'changed');
  const infraEa2 = await ea('infrastructure');
  assert.equal(infraEa2?.revision, infraEa1?.revision, 'the infrastructure artifact keeps its revision');
  assert.equal(infraEa2?.digest, infraEa1?.digest);
  assert.ok((await snapshot(x, 'apps')).reconciles > appsSnap1.reconciles);

  // 2. A change under infrastructure/ only: the infra Kustomizations follow, apps does not.
  const apps2 = (await ea('apps'))!.revision;
  const appsSnap2 = await snapshot(x, 'apps');
  await x.repo.commit({ 'infrastructure/configs/gateway.yaml': fleetLayout(x.ns, x.repo.url, group, '', '')['infrastructure/configs/gateway.yaml']!.replace('listener: http', 'listener: https') }, 'infra only');
  await x.repo.push();
  assert.equal((await x.push(rt)).status, 200);
  await x.waitFor('infra-configs at the new infrastructure artifact', async () => {
    const a = await ea('infrastructure');
    return Boolean(a && a.revision !== infraEa1?.revision) && readyAt(await x.record('Kustomization', 'infra-configs'), a!.revision);
  });
  await x.waitFor('infra-controllers at the new infrastructure artifact', async () => readyAt(await x.record('Kustomization', 'infra-controllers'), (await ea('infrastructure'))!.revision));
  assert.equal(((await x.get('ConfigMap', 'gateway')) as unknown as { data: { listener: string } }).data.listener, 'https');
  // One message group per object, FIFO: a wake-up of infra-controllers left over from the
  // apps-only change would have run before this one. So exactly one reconcile per change.
  assert.equal((await snapshot(x, 'infra-controllers')).reconciles, infraCtl1.reconciles + 1, 'infra-controllers: only the infrastructure change');
  assert.ok((await snapshot(x, 'infra-configs')).reconciles > infraCfg1.reconciles);
  assert.equal((await ea('apps'))?.revision, apps2, 'the apps artifact keeps its revision');
  const appsSnap3 = await snapshot(x, 'apps');
  assert.equal(appsSnap3.reconciles, appsSnap2.reconciles, 'apps is not reconciled for an infrastructure change');
  assert.equal(appsSnap3.applied, apps2);
});
