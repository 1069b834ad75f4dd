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
  return filesCarry(meta, Object.keys(meta.outputs)).carries;
}

/** Bytes of the code files (`.mjs`, not source maps) a build wrote. */
export function shippedBytes(meta) {
  return Object.entries(meta.outputs).filter(([f]) => f.endsWith('.mjs')).reduce((n, [, o]) => n + o.bytes, 0);
}

/** Modules a cold start should not parse unless an object needs them (loaded with import() on first use). */
export const ON_DEMAND_MODULES = {
  'node_modules/openpgp/': 'openpgp',
  'node_modules/ssh2/': 'ssh2',
  'node_modules/@aws-sdk/client-kms/': 'KMS client',
  'node_modules/@aws-sdk/client-ecr/': 'ECR client',
  'node_modules/@bufbuild/cel/': 'CEL',
};

/**
 * The output files loading `entries` loads (paths as the metafile names them, e.g.
 * dist/functions/worker.mjs): each of them and the chunks they import statically,
 * transitively; not the chunks behind import().
 */
export function initFiles(meta, ...entries) {
  const seen = new Set();
  const stack = [...entries];
  while (stack.length) {
    const f = stack.pop();
    if (seen.has(f) || !meta.outputs[f]) continue;
    seen.add(f);
    for (const i of meta.outputs[f].imports ?? []) if (i.kind === 'import-statement') stack.push(i.path);
  }
  return [...seen];
}

/** Bytes of `files` (output paths of the metafile), and which of `modules` (path fragment -> label) they carry. */
export function filesCarry(meta, files, modules = HEAVY_MODULES) {
  let bytes = 0;
  const carries = {};
  for (const f of files) {
    const o = meta.outputs[f];
    bytes += o.bytes;
    for (const [p, v] of Object.entries(o.inputs)) {
      for (const [frag, label] of Object.entries(modules)) if (p.includes(frag)) carries[label] = (carries[label] ?? 0) + v.bytesInOutput;
    }
  }
  return { bytes, carries };
}

/** The output file of the metafile built from source `entryPoint` (e.g. shared/kinds/kustomization/reconciler.ts). */
export function outputOf(meta, entryPoint) {
  return Object.keys(meta.outputs).find((f) => meta.outputs[f].entryPoint === entryPoint);
}
