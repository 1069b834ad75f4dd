/**
 * The direct build (direct.ts) straight from an artifact held in memory, with nothing
 * written to disk: for spec.path a plain directory of YAML (no kustomization file in it or
 * below it), it lists the files Flux's generator would list (scanResources' walk: names in
 * byte order at each level, `.yaml`/`.yml` files, each one Kubernetes YAML) and builds them
 * in-process as `kubectl kustomize` would.
 *
 * Whenever the tree holds anything else (a kustomization file, a file the generator would
 * refuse, more input than the output limit, a spec.path that is not a directory of the
 * artifact), or the direct build itself declines, it returns undefined and the caller takes
 * the disk path (materialize, generate, check, kustomize), so every error and every output
 * stays exactly that path's. Plain trees are the commonest Flux layout: for them a build
 * costs no file system call at all.
 */
import path from 'node:path';
import type { ArtifactTree } from '../artifacts/tree.js';
import { directBuildEnabled, directBuildFiles, directBuildSpec, type ResourceFile } from './direct.js';
import { specPathRelative } from './build-path.js';
import { KUSTOMIZATION_FILE_NAMES, byteOrder, isWithin, kubernetesYamlCheck } from './generator.js';
import { DEFAULT_MAX_OUTPUT_BYTES } from './kustomize-run.js';
import type { KubeObject, RenderSpec } from './types.js';

/** Signals "take the disk path". */
class NotPlain extends Error {}

/**
 * Builds `specPath` of `tree` in memory when the spec asks for nothing a direct build cannot
 * do (directBuildSpec), spec.path is a plain directory of YAML and the direct build accepts
 * it, else undefined. Like the direct build on disk, it is off with FLUXLESS_KUSTOMIZE_DIRECT=0.
 */
export async function directBuildTree(tree: ArtifactTree, specPath: string | undefined, spec: RenderSpec, maxInputBytes = DEFAULT_MAX_OUTPUT_BYTES): Promise<KubeObject[] | undefined> {
  if (!directBuildSpec(spec) || !directBuildEnabled()) return undefined;
  const raw = specPath ?? '';
  if (raw.includes('\0')) return undefined;
  const dir = path.join(tree.root, specPathRelative(raw));
  if (!isWithin(tree.root, dir) || !(await tree.isDir(dir))) return undefined;
  const files: ResourceFile[] = [];
  let bytes = 0;
  const hasKustomization = async (d: string) => {
    for (const name of KUSTOMIZATION_FILE_NAMES) if (await tree.isFile(path.join(d, name))) return true;
    return false;
  };
  const walk = async (current: string): Promise<void> => {
    const entries = (await tree.list(current)).sort((a, b) => byteOrder(a.name, b.name));
    for (const e of entries) {
      const p = path.join(current, e.name);
      if (e.isDirectory) {
        // A directory with its own kustomization is a resource of its own: kustomize's.
        if (await hasKustomization(p)) throw new NotPlain();
        await walk(p);
        continue;
      }
      const ext = path.extname(e.name);
      if (ext !== '.yaml' && ext !== '.yml') continue;
      const data = await tree.read(p);
      bytes += data.byteLength;
      if (bytes > maxInputBytes) throw new NotPlain();
      // The generator's check reads the file as text (invalid UTF-8 replaced); the direct build then refuses such a file.
      // The documents it parsed are the build's (no second parse) when that text is the file's.
      const text = data.toString('utf8');
      const check = kubernetesYamlCheck(text);
      if (check.problem !== undefined) throw new NotPlain();
      files.push({ data, parsed: check.documents ? { text, documents: check.documents } : undefined });
    }
  };
  try {
    if (await hasKustomization(dir)) return undefined;
    await walk(dir);
  } catch (err) {
    if (err instanceof NotPlain) return undefined;
    throw err;
  }
  return directBuildFiles(files, spec.targetNamespace, maxInputBytes);
}
