/**
 * The three views of the kinds agree: every descriptor (shared/kinds/descriptors.ts) has its
 * reconciler in the registry (the CLI's) and a loader (the worker's), in the same order,
 * built on the same descriptor, and the loader gives the registry's own object.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KIND_DESCRIPTORS, descriptorByWord, isKnownKind, kindDescriptor } from '../../shared/kinds/descriptors.js';
import { LOADABLE_KINDS, loadReconciler } from '../../shared/kinds/load.js';
import { KINDS, kindByWord, kindReconciler } from '../../shared/kinds/registry.js';

test('descriptors, registry and loaders name the same kinds, and a loaded reconciler is the registry one', async () => {
  const kinds = KIND_DESCRIPTORS.map((d) => d.kind);
  assert.equal(new Set(kinds).size, kinds.length, 'one descriptor per kind');
  assert.deepEqual(KINDS.map((k) => k.kind), kinds, 'the registry lists the kinds in the descriptors order');
  assert.deepEqual([...LOADABLE_KINDS].sort(), [...kinds].sort(), 'a loader for every kind, and none more');
  for (const d of KIND_DESCRIPTORS) {
    const r = kindReconciler(d.kind)!;
    for (const field of ['kind', 'group', 'versions', 'names', 'schedule', 'tick'] as const) assert.equal(r[field], d[field], `${d.kind}.${field} comes from its descriptor`);
    assert.equal(await loadReconciler(d.kind), r, `${d.kind}: the loader gives the registry's reconciler`);
    assert.equal(kindDescriptor(d.kind), d);
    assert.ok(isKnownKind(d.kind));
    for (const w of [d.names.singular, d.names.plural, ...d.names.aliases]) {
      assert.equal(descriptorByWord(w)?.kind, d.kind, `'${w}' names ${d.kind}`);
      assert.equal(kindByWord(w), r);
    }
  }
  assert.equal(await loadReconciler('Nope'), undefined);
  assert.equal(await loadReconciler('toString'), undefined, 'only own loaders, not Object.prototype');
  assert.equal(isKnownKind('Nope'), false);
});
