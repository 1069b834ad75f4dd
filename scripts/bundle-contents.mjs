// What a function bundle carries, from its esbuild metafile (bench:cold and the bundle test).

/** Modules (by path fragment) a function that never reconciles should not carry, with a label each. */
export const HEAVY_MODULES = {
  'shared/apply/': 'apply engine',
  'shared/helm/': 'helm',
  'shared/sops/': 'sops',
  'shared/render/kustomize-run.ts': 'kustomize runner',
  'shared/kinds/kustomization/reconciler': 'Kustomization reconciler',
  'node_modules/ssh2/': 'ssh2',
  'node_modules/openpgp/': 'openpgp',
  'node_modules/isomorphic-git/': 'isomorphic-git',
};

/** The heavy modules a bundle's metafile shows, with their bytes in the output. */
export function heavyIn(meta) {
  const out = {};
  for (const o of Object.values(meta.outputs)) {
    for (const [p, v] of Object.entries(o.inputs)) {
      for (const [frag, label] of Object.entries(HEAVY_MODULES)) if (p.includes(frag)) out[label] = (out[label] ?? 0) + v.bytesInOutput;
    }
  }
  return out;
}
