/**
 * `spec.ignore` rules as the apply engine uses them (pure logic, fluxcd/pkg ssa semantics):
 * target selectors (regexes, label and annotation selector expressions), RFC 6901 pointers
 * with `~1` / `~0` escapes, the root pointer, and the strip-or-adopt decision from
 * managedFields. The end-to-end behaviour against the API server is in
 * kustomization-2.9.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IgnoreRules, driftedIgnoredPaths, parsePointer, resolvePayload, withoutPaths } from '../../shared/apply/ignore.js';
import { CompiledSelector, LabelSelector } from '../../shared/apply/selector.js';
import type { KubeObject } from '../../shared/kube/object.js';
import { parseKustomization } from '../../shared/kinds/kustomization/spec.js';

const deploy = (name: string, extra: Partial<KubeObject['metadata']> = {}, spec: Record<string, unknown> = { replicas: 1 }): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'apps', ...extra },
  spec,
});

describe('spec.ignore selectors and pointers', () => {
  test('label selector expressions: =, !=, in, notin, exists, !exists', () => {
    const s = LabelSelector.parse('tier=web, env in (prod,staging), !legacy, team, zone notin (eu)');
    assert.equal(s.matches({ tier: 'web', env: 'prod', team: 'a' }), true);
    assert.equal(s.matches({ tier: 'web', env: 'dev', team: 'a' }), false);
    assert.equal(s.matches({ tier: 'web', env: 'prod', team: 'a', legacy: 'y' }), false);
    assert.equal(s.matches({ tier: 'web', env: 'prod' }), false);
    assert.equal(s.matches({ tier: 'web', env: 'prod', team: 'a', zone: 'eu' }), false);
    assert.throws(() => LabelSelector.parse('a in b'), /invalid selector/);
  });

  test('target: anchored regexes on group, version, kind, name, namespace, plus selectors', () => {
    const sel = CompiledSelector.compile({ group: 'apps', kind: 'Deploy.*', name: 'web|api', labelSelector: 'hpa=on', annotationSelector: 'owner' }, 't');
    assert.equal(sel.matches(deploy('web', { labels: { hpa: 'on' }, annotations: { owner: 'x' } })), true);
    assert.equal(sel.matches(deploy('web2', { labels: { hpa: 'on' }, annotations: { owner: 'x' } })), false, 'anchored: web2 is not web');
    assert.equal(sel.matches(deploy('api', { labels: { hpa: 'off' }, annotations: { owner: 'x' } })), false);
    assert.equal(sel.matches({ ...deploy('api', { labels: { hpa: 'on' }, annotations: { owner: 'x' } }), apiVersion: 'extensions/v1beta1' }), false);
    assert.throws(() => CompiledSelector.compile({ name: '(' }, 'spec.ignore[0].target'), /spec\.ignore\[0\]\.target\.name: invalid regular expression/);
    // Go's regexp, as kustomize's selectors: POSIX classes and flags work, lookaround is refused.
    assert.equal(CompiledSelector.compile({ name: '(?i)[[:alpha:]]+-\\d' }, 't').matches(deploy('WEB-1')), true);
    assert.throws(() => CompiledSelector.compile({ name: 'web(?!2)' }, 't'), /invalid regular expression .*invalid or unsupported Perl syntax/);
  });

  test('pointers: ~1 and ~0 escapes, list indexes, missing paths are no error', () => {
    assert.deepEqual(parsePointer('/metadata/annotations/example.com~1owner'), ['metadata', 'annotations', 'example.com/owner']);
    assert.deepEqual(parsePointer('/a~0b'), ['a~b']);
    const obj = deploy('web', { annotations: { 'example.com/owner': 'hpa', keep: 'y' } }, { replicas: 2, template: { spec: { containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'y' }] } } });
    const out = withoutPaths(obj, ['/metadata/annotations/example.com~1owner', '/spec/template/spec/containers/1/image', '/spec/nope/deeper']);
    assert.deepEqual(out.metadata.annotations, { keep: 'y' });
    assert.deepEqual((out.spec as { template: { spec: { containers: unknown[] } } }).template.spec.containers, [{ name: 'a', image: 'x' }, { name: 'b' }]);
    assert.equal((obj.metadata.annotations ?? {})['example.com/owner'], 'hpa', 'the input is not modified');
  });

  test('rules apply per target; a rule without a target covers every object', () => {
    const rules = IgnoreRules.compile([{ paths: ['/spec/replicas'], target: { kind: 'Deployment', name: 'web' } }, { paths: ['/metadata/labels/x'] }]);
    assert.deepEqual(rules.pathsFor(deploy('web')), ['/spec/replicas', '/metadata/labels/x']);
    assert.deepEqual(rules.pathsFor(deploy('other')), ['/metadata/labels/x']);
    assert.throws(() => IgnoreRules.compile([{ paths: ['spec/replicas'] }]), /spec\.ignore\[0\]\.paths\[0\]: 'spec\/replicas' is not a JSON pointer/);
    assert.throws(() => IgnoreRules.compile([{ paths: ['/a~2'] }]), /invalid escape/);
  });

  test('strip when another Apply manager owns the field, adopt the live value when we are the only Apply owner', () => {
    const live = deploy('web', {
      managedFields: [
        { manager: 'fluxless', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:template': {} } } },
        { manager: 'hpa', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:replicas': {} } } },
      ],
    }, { replicas: 4, paused: true });
    const dry = deploy('web', {}, { replicas: 1, paused: false });
    const res = driftedIgnoredPaths(live, dry, ['/spec/replicas', '/spec/paused'], 'fluxless');
    assert.deepEqual(res, [
      { path: '/spec/replicas', action: 'strip' },
      { path: '/spec/paused', action: 'adopt', value: true },
    ]);
    const payload = resolvePayload(deploy('web', {}, { replicas: 1, paused: false, selector: {} }), res);
    assert.deepEqual(payload.spec, { paused: true, selector: {} });
    // A list item owned by another manager is found through its merge key.
    const withList = deploy('web', { managedFields: [{ manager: 'injector', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:containers': { 'k:{"name":"sidecar"}': { 'f:image': {} } } } } }] }, { containers: [{ name: 'main', image: 'a' }, { name: 'sidecar', image: 'b' }] });
    assert.deepEqual(driftedIgnoredPaths(withList, deploy('web', {}, { containers: [{ name: 'main', image: 'a' }, { name: 'sidecar', image: 'c' }] }), ['/spec/containers/1/image'], 'fluxless'), [
      { path: '/spec/containers/1/image', action: 'strip' },
    ]);
    // Unchanged ignored paths need nothing.
    assert.deepEqual(driftedIgnoredPaths(live, deploy('web', {}, { replicas: 4, paused: true }), ['/spec/replicas'], 'fluxless'), []);
  });

  test('the Kustomization parser compiles spec.ignore and names a bad target field', () => {
    const k = (ignore: unknown): KubeObject => ({
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: 'apps', namespace: 'flux-system' },
      spec: { interval: '1m', prune: true, sourceRef: { kind: 'ExternalArtifact', name: 'apps' }, ignore },
    });
    const spec = parseKustomization(k([{ paths: ['/spec/replicas'], target: { kind: 'Deployment' } }]));
    assert.deepEqual(spec.ignore?.pathsFor(deploy('x')), ['/spec/replicas']);
    assert.equal(spec.sourceRef.kind, 'ExternalArtifact');
    assert.throws(() => parseKustomization(k([{ paths: ['/x'], target: { kinds: 'Deployment' } }])), /spec\.ignore\[0\]\.target\.kinds: unknown or unsupported field/);
    assert.throws(() => parseKustomization(k([{ target: { kind: 'Deployment' } }])), /spec\.ignore\[0\]\.paths: is required/);
  });
});
