/**
 * `fluxless build` and `fluxless diff` for Kustomizations, like `flux build` / `flux diff`:
 * render from the stored artifact, or from a local directory (`--path`, built in place:
 * overlays that reach `../base` work as they do with `flux build --path`), optionally from
 * a definition in a file (`--kustomization-file`) without a stored one, and without any
 * cluster access (`--dry-run`).
 *
 * SOPS: with `spec.decryption`, both decrypt as the reconcile does when the key Secret can be
 * read with the CLI's credentials. `build` never prints Secret values of such a
 * Kustomization (they are masked as `flux build` masks SOPS data), and falls back to a build
 * without decryption (encrypted Secrets masked, a note on stderr) when the key cannot be
 * read; `diff` needs the key (exit 2 otherwise) and masks Secret values as every diff does.
 * `diff` compares against the Kustomization's target cluster (`kubeConfig`), as its
 * ServiceAccount when one is set.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify as toYaml } from 'yaml';
import { extractArtifact } from '../artifacts/extract.js';
import { renderDiff } from '../apply/diff.js';
import { buildKustomization, buildSettings } from '../kinds/kustomization/build.js';
import { isFluxGroup, isFluxObject } from '../kinds/kustomization/definitions.js';
import { engineFor } from '../kinds/kustomization/apply.js';
import { parseKustomization, type KustomizationSpec } from '../kinds/kustomization/spec.js';
import { targetOf } from '../kinds/kustomization/target.js';
import type { KubeClient } from '../kube/client.js';
import { fmtRef, inventoryId, parseInventoryId, type KubeObject } from '../kube/object.js';
import { materializeBuildTree } from '../render/materialize.js';
import type { Runtime } from '../runtime/runtime.js';
import { readRecord, type ObjectRecord } from '../state/records.js';
import { FluxlessError, NotFoundError, ValidationError } from '../util/errors.js';

const run = promisify(execFile);
const KS_HINT = "list Kustomizations with 'fluxless get kustomizations -A'";

/** Options of build and diff. */
export interface RenderCmdOptions {
  /** A local directory to build instead of the stored artifact (`--path`). */
  localPath?: string;
  /** A file holding the Kustomization definition (`--kustomization-file`). */
  kustomizationFile?: string;
  /** No cluster access: substituteFrom is not read (`--dry-run`). */
  dryRun?: boolean;
}

/** The Kustomization named `name` from a YAML file (multi-document). */
function definitionFromFile(file: string, ns: string, name: string): KubeObject {
  if (!existsSync(file)) throw new ValidationError(`--kustomization-file ${file} not found`);
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const o = doc.toJS() as KubeObject | null;
    if (o?.kind === 'Kustomization' && o.metadata?.name === name && (o.metadata.namespace ?? ns) === ns) {
      return { ...o, metadata: { ...o.metadata, namespace: o.metadata.namespace ?? ns } };
    }
  }
  throw new NotFoundError(`no Kustomization ${ns}/${name} in ${file}`, { hint: 'check the name and namespace (-n) of the Kustomization in the file' });
}

/** The directory a local build is contained in: the git work tree of `dir`, else the filesystem root. */
export async function localRoot(dir: string): Promise<string> {
  try {
    const { stdout } = await run('git', ['rev-parse', '--show-toplevel'], { cwd: dir });
    if (stdout.trim()) return stdout.trim();
  } catch {
    /* not in a git work tree */
  }
  return path.parse(dir).root;
}

/** A client for dry-run builds: any request is refused (nothing is read from a cluster). */
const NO_CLUSTER: KubeClient = {
  server: 'dry-run',
  requestCount: 0,
  request: () => Promise.reject(new FluxlessError('DryRun', '--dry-run: the cluster is not read (substituteFrom is not resolved)')),
  close: () => undefined,
};

/** The mask Flux's `flux build` writes over SOPS data. */
export const SOPS_MASK = '**SOPS**';

/**
 * The objects of a build as `build` prints them: every Secret of a Kustomization with
 * decryption, and every Secret still SOPS-encrypted, has its values masked and its `sops`
 * metadata removed.
 */
export function maskedForOutput(objects: KubeObject[], decryption: boolean): KubeObject[] {
  const b64 = Buffer.from(SOPS_MASK).toString('base64');
  return objects.map((o) => {
    const raw = o as KubeObject & { sops?: unknown; data?: Record<string, unknown>; stringData?: Record<string, unknown> };
    if (o.kind !== 'Secret' || !(decryption || raw.sops !== undefined)) return o;
    const { sops: _sops, ...rest } = raw;
    void _sops;
    const out: typeof raw = { ...rest };
    if (raw.data) out.data = Object.fromEntries(Object.keys(raw.data).map((k) => [k, b64]));
    if (raw.stringData) out.stringData = Object.fromEntries(Object.keys(raw.stringData).map((k) => [k, SOPS_MASK]));
    return out;
  });
}

/** Renders a Kustomization from a local directory or its current artifact. */
async function renderFor(
  rt: Runtime,
  ns: string,
  name: string,
  opts: RenderCmdOptions & { decryptOrMask?: boolean },
): Promise<{ spec: KustomizationSpec; rec?: ObjectRecord; objects: KubeObject[] }> {
  const rec = await readRecord(rt.state, { kind: 'Kustomization', namespace: ns, name });
  const def = opts.kustomizationFile ? definitionFromFile(opts.kustomizationFile, ns, name) : rec?.object;
  if (!def) throw new NotFoundError(`Kustomization ${ns}/${name} not found`, { hint: `${KS_HINT}, or give --kustomization-file` });
  const spec = parseKustomization(def, opts.kustomizationFile);
  if (opts.dryRun && spec.postBuild) spec.postBuild = { ...spec.postBuild, substituteFrom: [] };
  const client = opts.dryRun ? NO_CLUSTER : rt.client;
  const work = await mkdtemp(path.join(os.tmpdir(), 'fluxless-cli-'));
  try {
    const dest = path.join(work, 'src');
    if (opts.localPath) {
      // Built in place: the build sees the directory's git work tree, as `flux build --path` sees the disk.
      const abs = path.resolve(opts.localPath);
      if (!existsSync(abs)) throw new ValidationError(`--path ${opts.localPath} does not exist`);
      const root = await localRoot(abs);
      spec.path = path.relative(root, abs) || './';
      await materializeBuildTree(root, spec.path, spec.render.components ?? [], dest);
    } else {
      const src = await readRecord(rt.state, { kind: spec.sourceRef.kind, namespace: spec.sourceRef.namespace, name: spec.sourceRef.name });
      const a = src?.status.artifact;
      if (!a) throw new FluxlessError('ArtifactFailed', `the source of Kustomization ${ns}/${name} has no artifact yet`, { hint: 'reconcile the source first, or give --path' });
      await extractArtifact(await rt.artifacts.get(a.key, a.digest), dest);
    }
    const build = buildSettings(rt.settings);
    let objects: KubeObject[];
    if (spec.decryption && opts.dryRun) {
      process.stderr.write('note: --dry-run: SOPS-encrypted values are not decrypted (the key Secret is not read)\n');
      objects = await buildKustomization(client, spec, dest, { ...build, skipDecryption: true });
    } else {
      try {
        objects = await buildKustomization(client, spec, dest, build);
      } catch (err) {
        if (!opts.decryptOrMask || (err as { code?: string }).code !== 'DecryptionSecretUnavailable') throw err;
        process.stderr.write(`note: ${(err as Error).message}: building without decryption (encrypted values are masked)\n`);
        objects = await buildKustomization(client, spec, dest, { ...build, skipDecryption: true });
      }
    }
    return { spec, rec, objects };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** `fluxless build kustomization NAME`: the objects it renders, as YAML. */
export async function buildCmd(rt: Runtime, ns: string, name: string, opts: RenderCmdOptions = {}): Promise<string> {
  const { spec, objects } = await renderFor(rt, ns, name, { ...opts, decryptOrMask: true });
  return maskedForOutput(objects, Boolean(spec.decryption)).map((o) => toYaml(o)).join('---\n');
}

/** `fluxless diff kustomization NAME` (`flux diff` exit codes: 0 no diff, 1 diff, >1 error, thrown). */
export async function diffCmd(rt: Runtime, ns: string, name: string, opts: RenderCmdOptions = {}): Promise<{ code: number; text: string }> {
  const { spec, rec, objects } = await renderFor(rt, ns, name, { ...opts, dryRun: false });
  const target = await targetOf(rt, spec, rec);
  let entries;
  try {
    const engine = engineFor(rt, spec, undefined, target);
    entries = await engine.applyAll(objects.filter((o) => !isFluxObject(o)), { diffOnly: true, ignore: spec.ignore });
  } finally {
    target.release();
  }
  const lines: string[] = [];
  for (const e of entries) {
    if (e.action === 'created') lines.push(`► ${e.subject} created`);
    else if (e.action === 'configured') lines.push(`► ${e.subject} drifted`, renderDiff(e.changes ?? []));
  }
  const newIds = new Set(entries.map((e) => inventoryId(e.ref)));
  if (spec.prune) {
    for (const inv of rec?.status.inventory?.entries ?? []) {
      const ref = parseInventoryId(inv.id);
      if (!newIds.has(inv.id) && !isFluxGroup(ref.group)) lines.push(`► ${fmtRef(ref)} deleted`);
    }
  }
  return { code: lines.length ? 1 : 0, text: lines.join('\n') };
}
