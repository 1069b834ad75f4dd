/**
 * The reverse dependsOn index: for each Kustomization, the Kustomizations waiting on it, so a
 * Kustomization that becomes Ready enqueues its dependents without reading every record.
 *
 * A dependent registers itself with each dependency *before* it reads the dependency's
 * status; the dependency reads the index *after* it writes its Ready status. So either the
 * dependent sees Ready, or the dependency sees the dependent: no wake-up is lost. Entries are
 * only hints: readers check the dependent's dependsOn again and drop entries that no longer
 * hold, and a dependent not in the index still retries on its own (every 30 s, like Flux).
 */
import type { StateStore } from '../state/index.js';
import { recordKey } from './records.js';

export const DEPENDENTS_INDEX_KIND = 'DependentsIndex';

export interface NamespacedName {
  namespace: string;
  name: string;
}

interface DependentsIndex {
  dependents: NamespacedName[];
}

const same = (a: NamespacedName, b: NamespacedName) => a.namespace === b.namespace && a.name === b.name;

function indexKey(of: NamespacedName) {
  return recordKey(DEPENDENTS_INDEX_KIND, of.namespace, of.name);
}

/** Records that `dependent` waits on `dependency` (one read when already recorded). */
export async function registerDependent(state: StateStore, dependency: NamespacedName, dependent: NamespacedName): Promise<void> {
  const cur = (await state.get<DependentsIndex>(indexKey(dependency)))?.value;
  if (cur?.dependents.some((d) => same(d, dependent))) return;
  await state.update<DependentsIndex>(indexKey(dependency), (c) =>
    c?.dependents.some((d) => same(d, dependent)) ? undefined : { dependents: [...(c?.dependents ?? []), { namespace: dependent.namespace, name: dependent.name }] },
  );
}

/** The Kustomizations registered as waiting on `dependency` (hints: check each one). */
export async function registeredDependents(state: StateStore, dependency: NamespacedName): Promise<NamespacedName[]> {
  return (await state.get<DependentsIndex>(indexKey(dependency)))?.value.dependents ?? [];
}

/** Drops entries that turned out not to hold (the dependent is gone or no longer depends). */
export async function unregisterDependents(state: StateStore, dependency: NamespacedName, gone: NamespacedName[]): Promise<void> {
  if (!gone.length) return;
  await state.update<DependentsIndex>(indexKey(dependency), (c) => {
    if (!c) return undefined;
    const keep = c.dependents.filter((d) => !gone.some((g) => same(g, d)));
    return keep.length === c.dependents.length ? undefined : { dependents: keep };
  });
}

/** Removes the index of a Kustomization that no longer exists. */
export async function dropDependentsIndex(state: StateStore, of: NamespacedName): Promise<void> {
  await state.delete(indexKey(of));
}
