/**
 * `fluxless check --path` on a fleet laid out like the public home-ops repositories: Alerts
 * that also name Flux Operator's FluxInstance (allowed by its patched CRDs) and an
 * `alertmanager` Provider are supported, with one warning for the event sources that can
 * match nothing here; a kind no Flux-compatible controller reports events for is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cliEnv, runCli } from './helpers.js';

const alert = (name: string, kinds: string[]) =>
  `apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata:\n  name: ${name}\nspec:\n  providerRef: {name: alertmanager}\n  eventSeverity: error\n  eventSources:\n${kinds.map((k) => `    - {kind: ${k}, name: "*"}`).join('\n')}\n  exclusionList: ["dial.*tcp.*timeout"]\n`;

test('check: FluxInstance event sources are accepted with a warning, alertmanager Providers are supported, a Deployment event source is refused', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-check-notify-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const files: Record<string, string> = {
    'clusters/prod/apps.yaml': `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./apps\n  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system}\n`,
    'apps/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: o11y\nresources: [alerts.yaml, provider.yaml]\n',
    'apps/alerts.yaml': [alert('alertmanager', ['FluxInstance', 'GitRepository', 'HelmRelease', 'Kustomization']), alert('flux-ops', ['ResourceSet', 'FluxInstance']), alert('typo', ['Deployment'])].join('---\n'),
    'apps/provider.yaml': 'apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata:\n  name: alertmanager\nspec:\n  type: alertmanager\n  address: http://alertmanager-operated.o11y.svc.cluster.local:9093/api/v2/alerts/\n',
    'fluxless.yaml': 'source:\n  url: https://github.com/example/fleet\n  ref: {branch: main}\npath: ./clusters/prod\n',
  };
  for (const [f, body] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
    await writeFile(path.join(dir, f), body);
  }
  const r = await runCli(['check', '--path', dir], { cwd: dir, env: cliEnv({ FLUXLESS_DATA_DIR: path.join(dir, '.fluxless') }) });
  const out = r.stdout;
  assert.match(out, /^! 2 Alert\(s\) name event sources of kind FluxInstance: they match no event, as Fluxless reconciles no FluxInstance objects; their other sources are forwarded$/m, out);
  assert.match(out, /^! 1 Alert\(s\) name event sources of kind ResourceSet: /m, out);
  assert.match(out, /^✔ Provider \(notification\.toolkit\.fluxcd\.io\/v1beta3\): 1 supported$/m, out);
  assert.match(out, /^✗ Alert \(notification\.toolkit\.fluxcd\.io\/v1beta3\): 1 of 3: spec\.eventSources\[0\]\.kind must be one of Bucket, .*got "Deployment"$/m, out);
  assert.equal(r.code, 1, 'the refused Alert fails the check');
});
