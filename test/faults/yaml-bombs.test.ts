/**
 * Standing fault suite (issue 9, findings 1-3, end to end): YAML bombs pushed to Git at every
 * stage of a render, reconciled by the real `fluxless serve`: in a kustomization file, in a
 * resource, in a Kustomization's `spec.patches[].patch` and in postBuild substitution. Each
 * Kustomization fails with a clear message (never a Go stack dump), the server stays up and
 * serving, and the good Kustomization next to them is reconciled. The server and everything
 * it starts run under the suite's memory limits (helpers.ts: heap, data segment, and the
 * render module's kustomize limit), so even a missing check could not exhaust the machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { configMap, faultFleet, kustomization, ready, waitFor } from './helpers.js';

/** A billion-laughs block under `key`: `levels` levels of 8 aliases each. */
function aliasBomb(key: string, levels = 30, indent = ''): string {
  let s = `${indent}${key}:\n${indent}  l0: &l0 ["lol", "lol", "lol", "lol"]\n`;
  for (let i = 1; i < levels; i++) s += `${indent}  l${i}: &l${i} [${Array(8).fill(`*l${i - 1}`).join(', ')}]\n`;
  return s;
}

/** The same as one flow-style value, for a substituted variable (a few hundred bytes). */
function flowBomb(levels = 9): string {
  const parts = ['&l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i < levels; i++) parts.push(`&l${i} [${Array(10).fill(`*l${i - 1}`).join(',')}]`);
  return `[${parts.join(', ')}]`;
}

const BOMBS = ['bomb-kfile', 'bomb-resource', 'bomb-patch', 'bomb-subst'] as const;

test('YAML bombs in a kustomization file, a resource, spec.patches and substitution: clear failures, the server stays up, the rest reconciles', { timeout: 240_000 }, async (t) => {
  const f = await faultFleet(t);
  const { ns } = f;
  const patch = stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' } }) + aliasBomb('data');
  await f.repo.commit(
    {
      'clusters/dev/apps.yaml': kustomization(ns, 'apps', './apps'),
      'clusters/dev/bombs.yaml': [
        kustomization(ns, 'bomb-kfile', './bomb-kfile'),
        kustomization(ns, 'bomb-resource', './bomb-resource'),
        kustomization(ns, 'bomb-patch', './plain', { patches: [{ patch, target: { kind: 'ConfigMap' } }] }),
        kustomization(ns, 'bomb-subst', './subst', { postBuild: { substitute: { BOMB: flowBomb() } } }),
      ].join('---\n'),
      'apps/a.yaml': configMap('a', { v: '1' }),
      'bomb-kfile/kustomization.yaml': `resources: [cm.yaml]\n${aliasBomb('commonAnnotations')}`,
      'bomb-kfile/cm.yaml': configMap('k', { v: '1' }),
      'bomb-resource/bomb.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n${aliasBomb('data')}`,
      'plain/cm.yaml': configMap('cm', { v: '1' }),
      'subst/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\ndata:\n  x: ${BOMB}\n',
    },
    'bombs',
  );
  await f.repo.push();
  const serve = await f.serve();
  await waitFor('apps Ready and every bomb failed', () => {
    if (ready(f.record('Kustomization', 'apps')).status !== 'True') return false;
    return BOMBS.every((n) => ready(f.record('Kustomization', n)).status === 'False');
  }, 120_000, serve.output);

  for (const n of BOMBS) {
    const msg = ready(f.record('Kustomization', n)).message ?? '';
    assert.match(msg, /excessive aliasing|ran out of its memory limit|CPU time limit/, `${n}: ${msg}`);
    assert.doesNotMatch(msg, /goroutine|panic:|runtime\./, `${n}: no Go stack dump`);
    assert.ok(msg.length < 2000, `${n}: a short message (${msg.length} chars)`);
    t.diagnostic(`${n}: ${msg}`);
  }
  assert.match(ready(f.record('Kustomization', 'bomb-resource')).message ?? '', /bomb-resource\/bomb\.yaml/, 'names the file');
  assert.match(ready(f.record('Kustomization', 'bomb-kfile')).message ?? '', /bomb-kfile\/kustomization\.yaml/, 'names the file');
  assert.equal((await f.get('ConfigMap', 'a'))?.data?.v, '1');
  assert.equal(await f.get('ConfigMap', 's'), undefined, 'nothing of a failed substitution is applied');

  // Still up and serving.
  assert.equal(serve.child.exitCode, null, 'the server is still running');
  const res = await fetch(`${serve.url}/hook/${'0'.repeat(64)}`, { method: 'POST', body: '{}' });
  assert.equal(res.status, 404);
  assert.equal(await serve.stop(), 0, serve.output());
});
