/**
 * The containment check that runs before kustomize: walks the kustomization graph from the
 * build directory and refuses any reference that would make kustomize read outside the
 * source artifact or reach the network, and any YAML input whose aliases exceed go-yaml's
 * budget. It fails closed: a kustomization file it cannot parse completely is refused, never
 * skipped.
 *
 * What is checked, for every kustomization file reached (kustomization-file.ts lists the
 * fields and how kustomize decodes them):
 *  - every local path (directories, YAML files, generator data files) must resolve inside the
 *    artifact, lexically (no `..` climbing out, no absolute path) and through symlinks;
 *  - remote references (URLs, git repositories, host-like paths kustomize clones) are refused
 *    unless `allowRemoteBases`; even then, never towards loopback, link-local or unspecified
 *    addresses, nor when kustomize would read the spelling as a local path that climbs out
 *    (`git@host:../../x`); `file:` URLs are always refused;
 *  - every YAML file kustomize parses and every inline patch is checked for excessive aliasing;
 *  - Helm chart inflation is refused;
 *  - inside generators/transformers/validators (plugin configurations, and kustomizations
 *    whose output are configurations) every string value that names a URL counts as a remote
 *    reference (as written, with YAML/JSON escapes decoded, and inside YAML nested in
 *    strings, such as a PatchTransformer's patch), multi-line string values get the alias check, and
 *    string-building features (replacements, vars) are refused, because plugin
 *    configurations take paths kustomize loads over HTTP.
 * Entries that do not exist are left for kustomize to report.
 */
import type { Stats } from 'node:fs';
import { readFile, realpath, stat } from '../util/fs-inline.js';
import path from 'node:path';
import { isBatchSafe } from './batch-safety.js';
import { ExcessiveAliasingError, KustomizationParseError, ReferenceNotAllowedError, UnsupportedFeatureError } from './errors.js';
import { fsCode, fsFailure } from './fs-errors.js';
import { assertInside, displayPath, findKustomizationFile, isWithin } from './generator.js';
import { parserDifferential, readKustomization, type Ref } from './kustomization-file.js';
import { classifyReference, hostOfPathLike, isHostLike, isLocalNetworkHost, mentionsRemote, urlHostsIn, urlTokens } from './remote.js';
import { YamlSyntaxError, allStrings, analyseYaml, fieldValues, type YValue } from './yaml-analysis.js';
import { assertFileAliasBudget, assertTextAliasBudget } from './yaml-scan.js';

/** Options of the pre-build check. */
export interface ReferenceCheckOptions {
  /**
   * Allow remote bases and resources (git repositories, http(s) files), as
   * kustomize-controller does by default. Off by default in Fluxless: remote content is not
   * checked before kustomize runs and makes the build depend on another server.
   */
  allowRemoteBases?: boolean;
}

/** What the check learned on the way. */
export interface ReferenceCheckResult {
  /** Whether the whole graph may share a kustomize run with other builds (batch-safety.ts). */
  batchable: boolean;
  /**
   * Whether kustomize may read any file of the artifact (`LoadRestrictionsNone`, as
   * kustomize-controller builds), which holds when every file the build can read is a path
   * this check resolved inside the artifact: the graph has no generators, transformers or
   * validators (their configurations name paths the check cannot follow through their own
   * transformations) and no remote references (remote content is never checked). Otherwise
   * kustomize keeps every file read in or below the reading kustomization's directory
   * (`LoadRestrictionsRootOnly`); `rootOnlyBecause` says why.
   */
  anyArtifactFile: boolean;
  /** Why the build is confined to LoadRestrictionsRootOnly (the first reason found). */
  rootOnlyBecause?: string;
}

const NAME_MAX = 255;
/** Levels of YAML-in-a-string inside a plugin configuration the check follows; deeper is refused. */
const MAX_NESTED_YAML = 8;
const PATH_MAX = 4096;

/** How a reference is read by kustomize. */
type Use = 'dir' | 'plugin' | 'yaml' | 'data' | 'patch';

interface LocalTarget {
  real: string;
  isDir: boolean;
  st: Stats;
}

const OUTSIDE_HINT = 'kustomizations may only reference files and directories inside the source artifact';
const REMOTE_HINT = 'vendor the remote manifests into the source repository (or into another source artifact)';
/** Why a remote reference is refused, with the setting that allows it (Flux allows remote bases by default). */
const REMOTE_DISABLED =
  'is a remote reference, and remote bases are disabled: vendor it into the repository, or let kustomize fetch it with render.allowRemoteBases: true in fluxless.yaml (unless lockdown.noRemoteBases is set)';
const HELM_HINT = 'Fluxless (like kustomize-controller) does not inflate Helm charts in kustomizations; use a HelmRelease';

/**
 * Walks the kustomization graph from `dir` (inside `root`; both symlink-resolved) and throws
 * a typed ValidationError for the first reference or input that is not allowed.
 */
export async function checkReferences(root: string, dir: string, opts: ReferenceCheckOptions = {}): Promise<ReferenceCheckResult> {
  const checker = new Checker(root, opts.allowRemoteBases === true);
  await checker.visit(dir, false);
  return { batchable: checker.batchable, anyArtifactFile: checker.rootOnlyBecause === undefined, rootOnlyBecause: checker.rootOnlyBecause };
}

class Checker {
  batchable = true;
  /** Set by the first reference that keeps kustomize on LoadRestrictionsRootOnly. */
  rootOnlyBecause: string | undefined;
  private readonly visited = new Set<string>();

  constructor(
    private readonly root: string,
    private readonly allowRemote: boolean,
  ) {}

  /** Checks the kustomization in `d`; `plugin` when its output are plugin configurations. */
  async visit(d: string, plugin: boolean): Promise<void> {
    const key = `${plugin ? 'p' : 'k'}:${d}`;
    if (this.visited.has(key)) return;
    this.visited.add(key);
    const kfile = await findKustomizationFile(d);
    if (!kfile) return; // kustomize reports the missing file
    const shown = displayPath(this.root, kfile);
    await assertInside(this.root, kfile);
    let text: string;
    try {
      text = await readFile(kfile, 'utf8');
    } catch (err) {
      throw fsFailure('cannot read', shown, err);
    }
    const k = readKustomization(text, shown);
    if (this.rootOnlyBecause === undefined) {
      const plugin = [...k.pluginRefs, ...k.inlinePlugins][0];
      if (plugin) this.rootOnlyBecause = `${shown} has ${plugin.field}`;
    }
    if (k.unsupported.length) throw new UnsupportedFeatureError(shown, `${k.unsupported[0]} (Helm chart inflation)`, HELM_HINT);
    if (plugin) {
      for (const f of ['replacements', 'vars']) {
        if (k.docs.some((doc) => fieldValues(doc, f).length > 0)) {
          throw new UnsupportedFeatureError(
            shown,
            `${f} in a kustomization used as generators, transformers or validators`,
            'build plugin configurations from plain files; replacements and vars could assemble paths kustomize would fetch',
          );
        }
      }
      this.checkPluginStrings(shown, 'generator, transformer or validator configuration', k.docs);
    }

    for (const ref of k.dirRefs) {
      const t = await this.local(shown, ref, d, 'dir');
      if (t?.isDir) await this.visit(t.real, plugin);
      else if (t) await this.yamlFile(t, plugin);
    }
    for (const ref of k.pluginRefs) {
      const t = await this.local(shown, ref, d, 'plugin');
      if (t?.isDir) await this.visit(t.real, true);
      else if (t) await this.yamlFile(t, true);
    }
    for (const ref of k.inlinePlugins) this.inline(shown, ref, true);
    for (const ref of k.yamlFiles) {
      const psm = ref.field === 'patchesStrategicMerge';
      const t = await this.local(shown, ref, d, psm ? 'patch' : 'yaml');
      if (t && !t.isDir) await this.yamlFile(t, plugin);
      else if (!t && psm && classifyReference(ref.value).kind === 'local') this.inline(shown, ref, plugin); // not a file: an inline patch
    }
    for (const ref of k.dataFiles) await this.local(shown, ref, d, 'data');
    for (const ref of k.inlineYaml) this.inline(shown, ref, plugin);

    if (this.batchable && !(await isBatchSafe(k, text, d, this.root))) this.batchable = false;
  }

  /**
   * Resolves a reference that is not remote: throws when it leaves the artifact, returns its
   * real path when it exists, undefined when it does not (or is remote and allowed).
   */
  private async local(shown: string, ref: Ref, from: string, use: Use): Promise<LocalTarget | undefined> {
    const c = classifyReference(ref.value);
    if (c.kind === 'forbidden') throw new ReferenceNotAllowedError(shown, ref.field, ref.value, c.reason, OUTSIDE_HINT);
    if (c.kind === 'remote') {
      // kustomize reads a spelling its repo-spec parser rejects as a local path: that path must stay inside too.
      if (!isWithin(this.root, path.resolve(from, ref.value))) {
        throw new ReferenceNotAllowedError(shown, ref.field, ref.value, 'climbs out of the source artifact when read as a local path', OUTSIDE_HINT);
      }
      this.remote(shown, ref, c.host);
      return undefined;
    }
    const cloneable = use === 'dir' || use === 'plugin';
    if (use !== 'patch' && (ref.value.length > PATH_MAX || ref.value.split('/').some((s) => Buffer.byteLength(s) > NAME_MAX))) {
      throw new ReferenceNotAllowedError(shown, ref.field, ref.value, `is too long to be a path (${ref.value.length} characters)`, 'shorten the path');
    }
    const target = path.resolve(from, ref.value);
    if (!isWithin(this.root, target)) {
      throw new ReferenceNotAllowedError(shown, ref.field, ref.value, 'points outside the source artifact', OUTSIDE_HINT);
    }
    let real: string;
    try {
      real = await realpath(target);
    } catch (err) {
      if (use !== 'patch' && fsCode(err) === 'ENAMETOOLONG') {
        throw new ReferenceNotAllowedError(shown, ref.field, ref.value, 'is too long to be a path', 'shorten the path');
      }
      // Not on disk (or a dangling symlink; kustomize reports it): kustomize tries a
      // host-like directory reference as a git repository.
      if (cloneable && isHostLike(ref.value)) this.remote(shown, ref, hostOfPathLike(ref.value));
      return undefined;
    }
    if (!isWithin(this.root, real)) {
      throw new ReferenceNotAllowedError(
        shown,
        ref.field,
        ref.value,
        'resolves through a symlink to a location outside the source artifact',
        OUTSIDE_HINT,
      );
    }
    const st = await stat(real);
    const isDir = st.isDirectory();
    if (isDir && cloneable && isHostLike(ref.value)) {
      // kustomize parses it as a repository before it looks on disk.
      this.remote(shown, ref, hostOfPathLike(ref.value));
      return undefined;
    }
    return { real, isDir, st };
  }

  private remote(shown: string, ref: Ref, host: string | undefined): void {
    this.rootOnlyBecause ??= `${shown} has a remote reference in ${ref.field}`; // not the value: a URL may hold credentials
    if (!this.allowRemote) {
      throw new ReferenceNotAllowedError(shown, ref.field, ref.value, REMOTE_DISABLED, REMOTE_HINT);
    }
    if (host === undefined) {
      throw new ReferenceNotAllowedError(shown, ref.field, ref.value, 'is a remote reference whose host cannot be read', 'write the remote as https://host/path');
    }
    if (isLocalNetworkHost(host)) {
      throw new ReferenceNotAllowedError(
        shown,
        ref.field,
        ref.value,
        `points at the local network (${host || 'no host'}); Fluxless never fetches from loopback, link-local or unspecified addresses`,
        'reference a remote by a public host name',
      );
    }
  }

  /** A YAML file kustomize parses: alias budget, and for plugin configurations their URLs. */
  private async yamlFile({ real, st }: LocalTarget, plugin: boolean): Promise<void> {
    const shown = displayPath(this.root, real);
    await assertFileAliasBudget(real, shown, st);
    if (!plugin) return;
    let text: string;
    try {
      text = await readFile(real, 'utf8');
    } catch {
      return; // kustomize reports it
    }
    this.checkPluginStrings(shown, 'generator, transformer or validator configuration', this.tree(text, shown));
  }

  /** Inline YAML inside a kustomization file. */
  private inline(shown: string, ref: Ref, plugin: boolean): void {
    const where = `${shown} (${ref.field})`;
    if (!plugin) {
      assertTextAliasBudget(ref.value, where);
      return;
    }
    this.checkPluginStrings(shown, ref.field, this.tree(ref.value, where));
  }

  /** The analysis tree of YAML that must be fully analysed (plugin configurations). */
  private tree(text: string, where: string): YValue[] {
    const differential = parserDifferential(text);
    if (differential) throw new KustomizationParseError(where, `${differential}: kustomize would read it differently from Fluxless's check, so it is not built`);
    let a: ReturnType<typeof analyseYaml>;
    try {
      a = analyseYaml(text, { tree: true });
    } catch (err) {
      if (err instanceof YamlSyntaxError) throw new KustomizationParseError(where, err.message, { cause: err });
      throw err;
    }
    if (a.excessive) throw new ExcessiveAliasingError(where);
    return a.docs;
  }

  /**
   * Plugin configurations load paths over HTTP: any string naming a remote counts as a remote
   * reference, however it is spelled. Strings are checked as written and with YAML/JSON
   * escapes decoded (`http\x3a//` in a nested patch), and a string that is itself YAML (a
   * PatchTransformer's `patch`, which kustomize parses and may turn into a configuration) is
   * parsed and checked the same way, to MAX_NESTED_YAML levels.
   */
  private checkPluginStrings(shown: string, field: string, docs: YValue[], depth = 0): void {
    for (const doc of docs) {
      for (const kind of fieldValues(doc, 'kind')) {
        if (typeof kind === 'string' && /^helmchart/i.test(kind)) throw new UnsupportedFeatureError(shown, `${kind} (Helm chart inflation)`, HELM_HINT);
      }
      for (const s of allStrings(doc)) {
        // Plugin configurations carry YAML in strings (PatchTransformer's `patch`) that kustomize parses.
        if (s.includes('\n')) assertTextAliasBudget(s, `${shown} (${field})`);
        const spellings = new Set([s, decodeEscapes(s)]);
        const nested = nestedYaml(s, `${shown} (${field})`);
        for (const d of nested) if (typeof d === 'string') spellings.add(d).add(decodeEscapes(d));
        for (const v of spellings) this.checkPluginString(shown, field, v);
        const trees = nested.filter((d) => typeof d !== 'string');
        if (!trees.length) continue;
        if (depth >= MAX_NESTED_YAML) {
          throw new UnsupportedFeatureError(
            shown,
            `YAML nested in strings more than ${MAX_NESTED_YAML} levels deep (${field})`,
            'write plugin configurations and their patches without YAML inside YAML inside YAML',
          );
        }
        this.checkPluginStrings(shown, field, trees, depth + 1);
      }
    }
  }

  /** One string of a plugin configuration (as written or decoded): refused when it names a remote kustomize may fetch. */
  private checkPluginString(shown: string, field: string, s: string): void {
    if (!mentionsRemote(s)) return;
    if (s.includes('\n')) {
      // Text that did not parse as nested YAML (or a spelling of it): each URL it holds, as a reference.
      for (const line of s.split('\n')) {
        if (!mentionsRemote(line)) continue;
        const tokens = urlTokens(line);
        for (const token of tokens.length ? tokens : [line.trim()]) this.checkPluginString(shown, field, token);
      }
      return;
    }
    const value = s;
    const ref = { field, value };
    const c = classifyReference(s);
    if (c.kind === 'forbidden') throw new ReferenceNotAllowedError(shown, field, value, c.reason, OUTSIDE_HINT);
    if (!this.allowRemote) this.remote(shown, ref, undefined);
    const hosts = c.kind === 'remote' ? [c.host, ...urlHostsIn(s)] : urlHostsIn(s);
    for (const h of hosts) this.remote(shown, ref, h);
  }
}

/**
 * A string with the escapes of YAML double-quoted scalars and JSON strings decoded
 * (`\x3a`, `\u003a`, `\U0000003a`, `\/`, an escaped line break), as kustomize sees the text
 * once it parses the YAML the string holds.
 */
export function decodeEscapes(s: string): string {
  if (!s.includes('\\')) return s;
  return s
    .replace(/\\\r?\n[ \t]*/g, '')
    .replace(/\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8}))/g, (m, x?: string, u?: string, U?: string) => {
      const cp = parseInt((x ?? u ?? U)!, 16);
      return cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    })
    .replace(/\\([^\n])/g, '$1');
}

/**
 * The documents of a plugin configuration's string when it is YAML kustomize may parse
 * (block text, or a flow mapping or sequence); [] for a plain scalar or text that does not
 * parse. Excessive aliasing is refused here too.
 */
function nestedYaml(s: string, where: string): YValue[] {
  if (!s.includes('\n') && !/^\s*[{["']/.test(s) && !/:\s/.test(s)) return [];
  let a: ReturnType<typeof analyseYaml>;
  try {
    a = analyseYaml(s, { tree: true });
  } catch (err) {
    if (err instanceof YamlSyntaxError && /nested/.test(err.message)) throw new KustomizationParseError(where, err.message, { cause: err });
    return []; // not YAML: kustomize cannot parse it either
  }
  if (a.excessive) throw new ExcessiveAliasingError(where);
  return a.docs.filter((d) => d !== s);
}
