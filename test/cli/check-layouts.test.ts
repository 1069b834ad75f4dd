/**
 * `fluxless check --path` on fleets laid out like public ones:
 * - like the home-ops repositories: Alerts that also name Flux Operator's FluxInstance
 *   (allowed by its patched CRDs) and an `alertmanager` Provider are supported, with one
 *   warning for the event sources that can match nothing here; a kind no Flux-compatible
 *   controller reports events for is refused;
 * - like flux2-kustomize-helm-example: Kustomizations on the ExternalArtifacts of an
 *   ArtifactGenerator over the repository are followed into the generated trees, whatever the
 *   order they are found in; those on other sources are named, not silently skipped;
 * - like joryirving/home-ops: child Kustomization paths built from per-cluster variables
 *   (`postBuild.substituteFrom` a ConfigMap of the repository, whichever build holds it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cliEnv, runCli } from './helpers.js';

/** Writes `files` below a new directory, removed after the test. */
async function fleetDir(t: { after(fn: () => Promise<void>): void }, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-check-layout-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const [f, body] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
    await writeFile(path.join(dir, f), body);
  }
  return dir;
}

/** `fluxless check --path dir` on the fleet in `dir`, with a data directory of its own. */
function checkFleet(dir: string) {
  return runCli(['check', '--path', dir], { cwd: dir, env: cliEnv({ FLUXLESS_DATA_DIR: path.join(dir, '.fluxless') }) });
}

const CONFIG = 'source:\n  url: https://github.com/example/fleet\n  ref: {branch: main}\npath: ./clusters/prod\n';

const alert = (name: string, kinds: string[]) =>
  `apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata:\n  name: ${name}\nspec:\n  providerRef: {name: alertmanager}\n  eventSeverity: error\n  eventSources:\n${kinds.map((k) => `    - {kind: ${k}, name: "*"}`).join('\n')}\n  exclusionList: ["dial.*tcp.*timeout"]\n`;

test('check: FluxInstance event sources are accepted with a warning, alertmanager Providers are supported, a Deployment event source is refused', async (t) => {
  const dir = await fleetDir(t, {
    'clusters/prod/apps.yaml': `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./apps\n  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system}\n`,
    'apps/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: o11y\nresources: [alerts.yaml, provider.yaml]\n',
    'apps/alerts.yaml': [alert('alertmanager', ['FluxInstance', 'GitRepository', 'HelmRelease', 'Kustomization']), alert('flux-ops', ['ResourceSet', 'FluxInstance']), alert('typo', ['Deployment'])].join('---\n'),
    'apps/provider.yaml': 'apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata:\n  name: alertmanager\nspec:\n  type: alertmanager\n  address: http://alertmanager-operated.o11y.svc.cluster.local:9093/api/v2/alerts/\n',
    'fluxless.yaml': CONFIG,
  });
  const r = await checkFleet(dir);
  const out = r.stdout;
  assert.match(out, /^! 2 Alert\(s\) name event sources of kind FluxInstance: they match no event, as Fluxless reconciles no FluxInstance objects; their other sources are forwarded$/m, out);
  assert.match(out, /^! 1 Alert\(s\) name event sources of kind ResourceSet: /m, out);
  assert.match(out, /^✔ Provider \(notification\.toolkit\.fluxcd\.io\/v1beta3\): 1 supported$/m, out);
  assert.match(out, /^✗ Alert \(notification\.toolkit\.fluxcd\.io\/v1beta3\): 1 of 3: spec\.eventSources\[0\]\.kind must be one of Bucket, .*got "Deployment"$/m, out);
  assert.equal(r.code, 1, 'the refused Alert fails the check');
});

const ks = (name: string, p: string, sourceRef: string) =>
  `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: ${name}\n  namespace: flux-system\nspec:\n  interval: 1h\n  path: ${p}\n  prune: true\n  sourceRef: ${sourceRef}\n`;

test('check: Kustomizations on an ArtifactGenerator over the repository are followed into its outputs; other sources are named', async (t) => {
  const dir = await fleetDir(t, {
    // The Kustomization on the generated artifact comes before its generator.
    'clusters/prod/apps.yaml': ks('apps', './production', '{kind: ExternalArtifact, name: apps}'),
    'clusters/prod/generator.yaml':
      'apiVersion: source.extensions.fluxcd.io/v1beta1\nkind: ArtifactGenerator\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  sources:\n    - {alias: monorepo, kind: GitRepository, name: flux-system}\n  artifacts:\n    - name: apps\n      originRevision: "@monorepo"\n      copy:\n        - {from: "@monorepo/apps/base/**", to: "@artifact/base/"}\n        - {from: "@monorepo/apps/production/**", to: "@artifact/production/"}\n',
    'clusters/prod/tenants.yaml': ks('tenants', './tenants', '{kind: OCIRepository, name: tenants}'),
    'apps/base/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [release.yaml]\n',
    'apps/base/release.yaml': 'apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: podinfo\n  namespace: podinfo\nspec:\n  interval: 10m\n  chartRef: {kind: OCIRepository, name: podinfo}\n',
    'apps/production/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../base, namespace.yaml]\n',
    'apps/production/namespace.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: podinfo\n',
    'fluxless.yaml': CONFIG,
  });
  const r = await checkFleet(dir);
  const out = r.stdout;
  assert.match(out, /^✔ 1 Kubernetes object\(s\) to apply from 2 Kustomization path\(s\)$/m, out);
  assert.match(out, /^✔ HelmRelease \(helm\.toolkit\.fluxcd\.io\/v2\): 1 supported$/m, 'the HelmRelease of the generated artifact is checked:\n' + out);
  assert.match(out, /^✔ ArtifactGenerator \(source\.extensions\.fluxcd\.io\/v1beta1\): 1 supported$/m, out);
  assert.match(out, /^! 1 Kustomization\(s\) build from other sources, checked when Fluxless fetches them: flux-system\/tenants \(OCIRepository flux-system\/tenants\)$/m, out);
});

test('check: substituteFrom reads the ConfigMaps of the repository, from whichever build holds them', async (t) => {
  const postBuild = '  postBuild:\n    substitute: {TIER: gold}\n    substituteFrom:\n      - {kind: ConfigMap, name: cluster-info}\n      - {kind: Secret, name: cluster-secrets}\n';
  const dir = await fleetDir(t, {
    // cluster-apps is found before the build that holds its ConfigMap.
    'clusters/prod/apps.yaml': ks('cluster-apps', './apps/prod', '{kind: GitRepository, name: flux-system}') + postBuild,
    'clusters/prod/vars.yaml': ks('cluster-vars', './clusters/vars', '{kind: GitRepository, name: flux-system}'),
    'clusters/vars/cluster-info.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-info\n  namespace: flux-system\ndata:\n  CLUSTER: prod\n',
    'apps/prod/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [web.yaml]\n',
    'apps/prod/web.yaml': ks('web', './apps/${CLUSTER}/web-${TIER}', '{kind: GitRepository, name: flux-system}'),
    'apps/prod/web-gold/kustomization.yaml':
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [ns.yaml, cm.yaml]\nreplacements:\n  - path: replacements.yaml\n',
    'apps/prod/web-gold/ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n',
    'apps/prod/web-gold/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: web\ndata:\n  ns: unset\n',
    'apps/prod/web-gold/replacements.yaml': '- source: {kind: Namespace, fieldPath: metadata.name}\n  targets:\n    - select: {kind: ConfigMap}\n      fieldPaths: [data.ns]\n',
    'fluxless.yaml': CONFIG,
  });
  const r = await checkFleet(dir);
  const out = r.stdout;
  assert.doesNotMatch(out, /failed/, out);
  assert.match(out, /^✔ 3 Kubernetes object\(s\) to apply from 4 Kustomization path\(s\)$/m, out);
  assert.match(out, /^✔ Kustomization \(kustomize\.toolkit\.fluxcd\.io\/v1\): 3 supported$/m, out);
  assert.match(
    out,
    /^! 1 postBuild\.substituteFrom object\(s\) are in no build of the repository \(made in the cluster\?\), so their variables were not substituted here: Secret flux-system\/cluster-secrets$/m,
    out,
  );
});

test('check: a build that holds the ConfigMap it substitutes from is built with it; SOPS-encrypted sources are named, their variables left as written', async (t) => {
  const postBuild = '  postBuild:\n    substituteFrom:\n      - {kind: ConfigMap, name: cluster-settings}\n      - {kind: Secret, name: cluster-secrets}\n';
  const sops = 'sops:\n  age:\n    - recipient: age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq\n      enc: x\n  lastmodified: "2026-01-01T00:00:00Z"\n  mac: ENC[AES256_GCM,data:x,iv:x,tag:x,type:str]\n  version: 3.9.0\n';
  const dir = await fleetDir(t, {
    'clusters/prod/apps.yaml': ks('cluster-apps', './apps', '{kind: GitRepository, name: flux-system}') + postBuild,
    'apps/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [vars/settings.yaml, vars/secrets.sops.yaml, web.yaml]\n',
    'apps/vars/settings.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-settings\n  namespace: flux-system\ndata:\n  CLUSTER: prod\n',
    'apps/vars/secrets.sops.yaml': `apiVersion: v1\nkind: Secret\nmetadata:\n  name: cluster-secrets\n  namespace: flux-system\nstringData:\n  DOMAIN: ENC[AES256_GCM,data:x,iv:x,tag:x,type:str]\n${sops}`,
    'apps/web.yaml': ks('web', './web/${CLUSTER}', '{kind: GitRepository, name: flux-system}') + '  postBuild:\n    substitute:\n      HOST: "web.$${DOMAIN}"\n',
    'web/prod/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [ns.yaml]\n',
    'web/prod/ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n',
    'fluxless.yaml': CONFIG,
  });
  const r = await checkFleet(dir);
  const out = r.stdout;
  assert.doesNotMatch(out, /failed/, out);
  assert.match(out, /^✔ 3 Kubernetes object\(s\) to apply from 3 Kustomization path\(s\)$/m, out);
  assert.match(
    out,
    /^! 1 postBuild\.substituteFrom object\(s\) are SOPS-encrypted in the repository \(the check decrypts nothing\), so their variables were not substituted here: Secret flux-system\/cluster-secrets$/m,
    out,
  );
});

test('check: a Kustomization on a GitRepository that no build defines (the fleet under the name its FluxInstance gave it) gets the setting to name it', async (t) => {
  const dir = await fleetDir(t, {
    'clusters/prod/apps.yaml': ks('cluster-apps', './apps', '{kind: GitRepository, name: home-kubernetes}') + ks('infra', './infra', '{kind: GitRepository, name: infra}').replace(/^/, '---\n'),
    'clusters/prod/infra-source.yaml': 'apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: infra\n  namespace: flux-system\nspec:\n  interval: 1h\n  url: https://github.com/example/infra\n  ref: {branch: main}\n',
    'fluxless.yaml': CONFIG,
  });
  const r = await checkFleet(dir);
  const out = r.stdout;
  assert.match(out, /^! GitRepository flux-system\/home-kubernetes is defined in no build of the repository: if it is this repository \(made by flux bootstrap or a FluxInstance\), set name: home-kubernetes in fluxless\.yaml$/m, out);
  assert.doesNotMatch(out, /GitRepository flux-system\/infra is defined in no build/, 'a GitRepository of the repository gets no hint');
});
