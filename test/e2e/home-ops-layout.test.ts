// A fleet laid out like the public home-ops repositories (joryirving/home-ops, onedr0p's
// template): the cluster's variables in a ConfigMap of the repository, read by the apps
// Kustomization through postBuild.substituteFrom to build its children's paths, and app
// kustomizations that take replacements and patches from shared files outside their own
// directory, which Flux reads (LoadRestrictionsNone on the artifact).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getCondition } from '../../shared/state/records.js';
import { e2e } from './helpers.js';

const ks = (ns: string, name: string, p: string, extra = '') =>
  `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n  interval: 2s\n  prune: true\n  path: ${p}\n  targetNamespace: ${ns}\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n${extra}`;

test('home-ops layout: children named by substituteFrom variables of the repository, shared replacements and patches outside the app directory', async (t) => {
  const x = await e2e(t);
  await x.repo.commit(
    {
      'clusters/dev/cluster-info.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-info\n  namespace: ${x.ns}\ndata:\n  CLUSTER: dev\n`,
      'clusters/dev/apps.yaml': ks(x.ns, 'cluster-apps', './apps', '  postBuild:\n    substituteFrom:\n      - {kind: ConfigMap, name: cluster-info}\n'),
      'apps/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [web.yaml]\n',
      'apps/web.yaml': ks(x.ns, 'web', './deploy/${CLUSTER}/web'),
      'deploy/dev/web/kustomization.yaml': [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        'resources: [cm.yaml]',
        'patches:',
        '  - path: ../../../shared/patches/team.yaml',
        '    target: {kind: ConfigMap, name: web}',
        'replacements:',
        '  - path: ../../../components/replacements/color.yaml',
        '',
      ].join('\n'),
      'deploy/dev/web/cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-settings\ndata:\n  color: blue\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  color: unset\n',
      'shared/patches/team.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  team: platform\n',
      'components/replacements/color.yaml':
        '- source: {kind: ConfigMap, name: web-settings, fieldPath: data.color}\n  targets:\n    - select: {kind: ConfigMap, name: web}\n      fieldPaths: [data.color]\n',
    },
    'home-ops layout',
  );
  await x.repo.push();
  await x.start();
  const rev = `main@sha1:${await x.repo.head()}`;
  await x.waitFor('web Ready at the revision', async () => {
    const r = await x.record('Kustomization', 'web');
    return getCondition(r, 'Ready')?.status === 'True' && r?.status.lastAppliedRevision === rev;
  }, 60_000);
  const web = (await x.get('ConfigMap', 'web')) as unknown as { data: Record<string, string> };
  assert.deepEqual(web.data, { color: 'blue', team: 'platform' });
  assert.equal(getCondition(await x.record('Kustomization', 'cluster-apps'), 'Ready')?.status, 'True');
});
