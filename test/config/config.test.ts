/**
 * The configuration (fluxless.yaml + environment): defaults, every field's validation
 * message, `~` and relative paths, scp-like URLs; and the REST mapper (shared/kube/mapper.ts)
 * against the real API server.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DEFAULT_CONCURRENCY, DEFAULT_MAX_RECEIVES, FEATURE_GATES, loadConfig, type FluxlessConfig } from '../../shared/config/config.js';
import { createKubeClient, type KubeClient } from '../../shared/kube/client.js';
import { NoKindMatchError, RestMapper } from '../../shared/kube/mapper.js';
import { ValidationError } from '../../shared/util/errors.js';
import { kubeConfigFrom, testEnv } from '../harness/index.js';

const URL_ = 'https://git.example.com/fleet.git';
let dir: string;

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fluxless-config-test-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `yaml` as a fluxless.yaml in its own directory and loads it (no environment). */
function fromFile(yaml: string, env: Record<string, string> = {}, opts: { dataDir?: string; requireSource?: boolean } = {}): FluxlessConfig {
  const d = mkdtempSync(path.join(dir, 'cfg-'));
  const file = path.join(d, 'fluxless.yaml');
  writeFileSync(file, yaml);
  return loadConfig({ file, env, dataDir: opts.dataDir ?? path.join(d, '.fluxless'), requireSource: opts.requireSource });
}

/** Asserts that loading fails with a ValidationError whose message matches `re` (and whose hint matches `hint`). */
function refused(load: () => unknown, re: RegExp, hint?: RegExp): void {
  assert.throws(load, (err: unknown) => {
    assert.ok(err instanceof ValidationError, `a ValidationError, got ${String(err)}`);
    assert.match(err.message, re);
    if (hint) assert.match(err.hint ?? '', hint);
    return true;
  });
}

describe('configuration', () => {
  test('defaults: Flux bootstrap\'s flux-system objects, local store and queue in the data directory', () => {
    const dataDir = path.join(dir, 'defaults-data');
    const cfg = loadConfig({ env: { FLUXLESS_SOURCE_URL: URL_ }, dataDir });
    const expected: Partial<FluxlessConfig> = {
      source: { kind: 'GitRepository', url: URL_, ref: { branch: 'main' }, interval: '1m', secretRef: undefined, ignore: undefined },
      path: './',
      namespace: 'flux-system',
      name: 'flux-system',
      interval: '10m',
      prune: true,
      cluster: { kubeconfig: undefined, inCluster: false },
      store: { type: 'filesystem', dir: dataDir },
      queue: { type: 'local', dir: path.join(dataDir, 'queue') },
      aws: { region: undefined, endpoint: undefined },
      webhook: { host: '127.0.0.1', port: 9292 },
      worker: { concurrency: DEFAULT_CONCURRENCY, maxReceives: DEFAULT_MAX_RECEIVES, healthInterval: '5s' },
      render: { allowRemoteBases: false, toolMemoryMiB: 1024 },
      scheduleInterval: '10s',
      applyFluxComponents: false,
      featureGates: { ...FEATURE_GATES },
    };
    // Sections added later (each with its own tests) do not change these defaults.
    assert.deepEqual(Object.fromEntries(Object.keys(expected).map((k) => [k, cfg[k as keyof FluxlessConfig]])), expected);
    assert.equal(cfg.featureGates.StrictPostBuildSubstitutions, true, "Flux 2.9's default");
  });

  test('every field from the file, and the environment wins over the file', () => {
    const cfg = fromFile(
      [
        'source:',
        `  url: ${URL_}`,
        '  ref: { tag: v1.2.3 }',
        '  interval: 5m',
        '  secretRef: fleet-auth',
        '  ignore: "/docs"',
        'path: ./clusters/production',
        'namespace: fleet',
        'name: root',
        'interval: 30m',
        'prune: false',
        'cluster: { inCluster: true }',
        'store: { type: s3, bucket: state-bucket, prefix: team-a/ }',
        'queue: { type: sqs, url: https://sqs.example/q.fifo, dlqUrl: https://sqs.example/dlq.fifo }',
        'aws: { region: eu-west-1, endpoint: http://127.0.0.1:4566 }',
        'webhook: { host: 0.0.0.0, port: 8080 }',
        'worker: { concurrency: 8, maxReceives: 3, healthInterval: 2s }',
        'render: { allowRemoteBases: true, toolMemoryMiB: 512, kustomizeGatherMs: 0 }',
        'scheduleInterval: 30s',
        'applyFluxComponents: true',
        '',
      ].join('\n'),
    );
    assert.deepEqual(cfg.source, { kind: 'GitRepository', url: URL_, ref: { tag: 'v1.2.3' }, interval: '5m', secretRef: 'fleet-auth', ignore: '/docs' });
    assert.deepEqual(
      [cfg.path, cfg.namespace, cfg.name, cfg.interval, cfg.prune, cfg.cluster.inCluster, cfg.scheduleInterval, cfg.applyFluxComponents],
      ['./clusters/production', 'fleet', 'root', '30m', false, true, '30s', true],
    );
    assert.deepEqual(cfg.store, { type: 's3', bucket: 'state-bucket', prefix: 'team-a/' });
    assert.deepEqual(cfg.queue, { type: 'sqs', url: 'https://sqs.example/q.fifo', dlqUrl: 'https://sqs.example/dlq.fifo' });
    assert.deepEqual(cfg.aws, { region: 'eu-west-1', endpoint: 'http://127.0.0.1:4566' });
    assert.deepEqual(cfg.webhook, { host: '0.0.0.0', port: 8080 });
    assert.deepEqual(cfg.worker, { concurrency: 8, maxReceives: 3, healthInterval: '2s' });
    assert.deepEqual(cfg.render, { allowRemoteBases: true, toolMemoryMiB: 512, kustomizeGatherMs: 0 }, 'a 0 from the file is kept');

    const over = fromFile(`source: { url: ${URL_}, ref: { tag: v1 }, interval: 5m }\npath: ./a\nnamespace: fleet\nwebhook: { port: 8080 }\nworker: { concurrency: 8 }\n`, {
      FLUXLESS_SOURCE_URL: 'https://other.example.com/fleet',
      FLUXLESS_SOURCE_BRANCH: 'release',
      FLUXLESS_SOURCE_INTERVAL: '2m',
      FLUXLESS_PATH: './b',
      FLUXLESS_NAMESPACE: 'other',
      FLUXLESS_PORT: '0',
      FLUXLESS_CONCURRENCY: '2',
      FLUXLESS_APPLY_FLUX_COMPONENTS: 'false',
      // An empty variable is unset (a deployment template with an empty parameter).
      FLUXLESS_SOURCE_SECRET: '',
    });
    assert.deepEqual(
      [over.source.url, over.source.ref, over.source.interval, over.source.secretRef, over.path, over.namespace, over.webhook.port, over.worker.concurrency],
      ['https://other.example.com/fleet', { branch: 'release' }, '2m', undefined, './b', 'other', 0, 2],
    );
  });

  test('`~` in every path, relative paths from the file\'s directory, environment paths from the working directory', () => {
    const home = os.homedir();
    const cfg = fromFile(`source: { url: ${URL_} }\ncluster: { kubeconfig: ~/.kube/config }\nstore: { dir: ~/fluxless/state }\nqueue: { dir: ~/fluxless/queue }\n`);
    assert.equal(cfg.cluster.kubeconfig, path.join(home, '.kube', 'config'));
    assert.deepEqual(cfg.store, { type: 'filesystem', dir: path.join(home, 'fluxless', 'state') });
    assert.deepEqual(cfg.queue, { type: 'local', dir: path.join(home, 'fluxless', 'queue') });
    assert.equal(loadConfig({ env: { FLUXLESS_SOURCE_URL: URL_, FLUXLESS_KUBECONFIG: '~/k.yaml' } }).cluster.kubeconfig, path.join(home, 'k.yaml'));
    assert.deepEqual(loadConfig({ env: { FLUXLESS_SOURCE_URL: URL_ }, dataDir: '~/.fluxless' }).store, { type: 'filesystem', dir: path.join(home, '.fluxless') });
    assert.deepEqual(loadConfig({ env: { FLUXLESS_SOURCE_URL: URL_, FLUXLESS_DATA_DIR: '~/data' } }).queue, { type: 'local', dir: path.join(home, 'data', 'queue') });

    // Relative to the file (like kubeconfig paths), whatever the working directory.
    const d = mkdtempSync(path.join(dir, 'rel-'));
    writeFileSync(path.join(d, 'fluxless.yaml'), `source: { url: ${URL_} }\ncluster: { kubeconfig: ./kubeconfig }\nstore: { dir: state }\n`);
    const rel = loadConfig({ file: path.join(d, 'fluxless.yaml'), env: {} });
    assert.equal(rel.cluster.kubeconfig, path.join(d, 'kubeconfig'));
    assert.deepEqual(rel.store, { type: 'filesystem', dir: path.join(d, 'state') });
    assert.equal(loadConfig({ env: { FLUXLESS_SOURCE_URL: URL_, FLUXLESS_KUBECONFIG: 'kc' } }).cluster.kubeconfig, path.resolve('kc'));
    // `~user` is not this user's home: left as a name.
    assert.equal(fromFile(`source: { url: ${URL_} }\ncluster: { kubeconfig: ~other/kc }\n`).cluster.kubeconfig?.endsWith(`${path.sep}~other${path.sep}kc`), true);
  });

  test('scp-like Git addresses become ssh:// URLs; other URLs are checked as Flux does', () => {
    const url = (u: string) => loadConfig({ env: { FLUXLESS_SOURCE_URL: u } }).source.url;
    assert.equal(url('git@github.com:org/fleet.git'), 'ssh://git@github.com/org/fleet.git');
    assert.equal(url('git@gitlab.example.com:group/sub/fleet'), 'ssh://git@gitlab.example.com/group/sub/fleet');
    assert.equal(url('deploy@[2001:db8::1]:fleet.git'), 'ssh://deploy@[2001:db8::1]/fleet.git');
    assert.equal(url('ssh://git@github.com/org/fleet'), 'ssh://git@github.com/org/fleet');
    assert.equal(url('ssh://git@127.0.0.1:2222/srv/git/fleet.git'), 'ssh://git@127.0.0.1:2222/srv/git/fleet.git');
    assert.equal(url('http://127.0.0.1:8080/fleet.git'), 'http://127.0.0.1:8080/fleet.git');
    assert.equal(fromFile('source: { url: "git@github.com:org/fleet.git" }\n').source.url, 'ssh://git@github.com/org/fleet.git');
    refused(() => url('ssh://git@github.com:org/fleet'), /source\.url 'ssh:\/\/git@github\.com:org\/fleet' mixes the ssh:\/\/ and scp-like forms: use 'ssh:\/\/git@github\.com\/org\/fleet'/);
    refused(() => url('ftp://example.com/fleet'), /configuration: source\.url 'ftp:\/\/example\.com\/fleet' has scheme 'ftp': only http, https and ssh are supported/);
    refused(() => url('not a url'), /source\.url 'not a url' is not a valid URL/);
    assert.throws(() => url('gopher://user:hunter2@example.com/fleet'), (err: Error) => /has scheme 'gopher'/.test(err.message) && !err.message.includes('hunter2'), 'credentials in a URL are not echoed');
  });

  test('an oci:// source is an OCIRepository: its ref fields, tag latest by default; Git refs and tags in the URL are refused', () => {
    const cfg = fromFile('source: { url: oci://ghcr.io/org/fleet-manifests }\n');
    assert.equal(cfg.source.kind, 'OCIRepository');
    assert.deepEqual(cfg.source.ref, { tag: 'latest' });
    assert.deepEqual(fromFile('source: { url: oci://ghcr.io/org/fleet, ref: { semver: ">=1.0.0", semverFilter: ".*-rc.*" } }\n').source.ref, { semver: '>=1.0.0', semverFilter: '.*-rc.*' });
    assert.equal(fromFile(`source: { url: ${URL_} }\n`).source.kind, 'GitRepository');
    refused(() => fromFile('source: { url: oci://ghcr.io/org/fleet, ref: { branch: main } }\n'), /source\.ref\.branch is not a ref field of an OCI repository/, /tag, semver, semverFilter, digest/);
    refused(() => fromFile('source: { url: "oci://ghcr.io/org/fleet:v1" }\n'), /source\.url \(FLUXLESS_SOURCE_URL\) 'oci:\/\/ghcr\.io\/org\/fleet:v1' is not an OCI repository URL/, /without a tag/);
    refused(() => fromFile('source: { url: oci://ghcr.io/Org/Fleet }\n'), /'oci:\/\/ghcr\.io\/Org\/Fleet' is not an OCI repository URL: repository can only contain the characters/);
    refused(() => fromFile('source: { url: oci://fleet }\n'), /'oci:\/\/fleet' is not an OCI repository URL/, /oci:\/\/<registry host>\/<repository>/);
    refused(() => loadConfig({ env: { FLUXLESS_SOURCE_URL: 'oci://ghcr.io/org/fleet', FLUXLESS_SOURCE_BRANCH: 'main' } }), /an OCI repository has no branches/);
  });

  test('required fields name themselves and their environment variable', () => {
    refused(() => loadConfig({ env: {} }), /^configuration: source\.url \(FLUXLESS_SOURCE_URL\) is required$/, /FLUXLESS_SOURCE_URL/);
    assert.equal(loadConfig({ env: {}, requireSource: false }).source.url, '', 'CLI commands that need no source');
    refused(() => fromFile('path: ./clusters/dev\n'), /fluxless\.yaml: source\.url \(FLUXLESS_SOURCE_URL\) is required/);
    refused(() => loadConfig({ env: { FLUXLESS_SOURCE_URL: URL_, FLUXLESS_STORE: 's3' } }), /store\.bucket \(FLUXLESS_BUCKET\) is required/);
    refused(() => loadConfig({ env: { FLUXLESS_SOURCE_URL: URL_, FLUXLESS_QUEUE: 'sqs' } }), /queue\.url \(FLUXLESS_QUEUE_URL\) is required/);
    refused(() => loadConfig({ env: { FLUXLESS_SOURCE_URL: URL_, FLUXLESS_QUEUE: 'sqs', FLUXLESS_QUEUE_URL: 'https://q' } }), /queue\.dlqUrl \(FLUXLESS_DLQ_URL\) is required/);
  });

  test('every field\'s wrong value is refused with a message naming the file, the field and what to write', () => {
    const src = `source: { url: ${URL_} }\n`;
    const cases: Array<[string, RegExp, RegExp?]> = [
      ['- a list\n', /fluxless\.yaml: must be a YAML mapping of fields \(source, path, cluster, \.\.\.\), got a list/],
      ['just text\n', /must be a YAML mapping of fields .*, got 'just text'/],
      ['source: [a]\n', /fluxless\.yaml: source must be a mapping \(url, ref, interval, secretRef, ignore\), got a list/],
      [`${src}sources: {}\n`, /fluxless\.yaml: unknown field 'sources'/, /known fields: source, path, namespace/],
      ['source: { url: x, branch: main }\n', /unknown field 'source\.branch'/, /write it under source\.ref: 'ref: \{ branch: \.\.\. \}'/],
      [`${src}cluster: { kubeConfig: ~/.kube/config }\n`, /unknown field 'cluster\.kubeConfig'/, /known fields of cluster: kubeconfig, inCluster/],
      ['source: { url: 42 }\n', /source\.url \(FLUXLESS_SOURCE_URL\) must be a string, got number 42/],
      [`source: { url: ${URL_}, ref: main }\n`, /source\.ref must be a mapping such as '\{ branch: main \}', got 'main'/],
      [`source: { url: ${URL_}, ref: { brnach: main } }\n`, /source\.ref\.brnach is not a ref field/, /branch, tag, semver, commit, name/],
      [`source: { url: ${URL_}, ref: { tag: 1 } }\n`, /source\.ref\.tag must be a non-empty string, got number 1/],
      [`source: { url: ${URL_}, interval: 5 }\n`, /source\.interval \(FLUXLESS_SOURCE_INTERVAL\) is not a duration: number 5/, /Go syntax such as 30s, 5m or 1h30m/],
      [`source: { url: ${URL_}, interval: 1 minute }\n`, /source\.interval \(FLUXLESS_SOURCE_INTERVAL\) is not a duration: '1 minute'/],
      [`source: { url: ${URL_}, secretRef: { name: creds } }\n`, /source\.secretRef \(FLUXLESS_SOURCE_SECRET\) must be a string, got a mapping/],
      [`source: { url: ${URL_}, secretRef: Fleet_Creds }\n`, /source\.secretRef \(FLUXLESS_SOURCE_SECRET\) 'Fleet_Creds' is not a valid Secret name/],
      [`source: { url: ${URL_}, ignore: [a] }\n`, /source\.ignore must be a string, got a list/],
      [`${src}path: 5\n`, /path \(FLUXLESS_PATH\) must be a string, got number 5/, /quote it: path: "5"/],
      [`${src}namespace: Flux_System\n`, /namespace \(FLUXLESS_NAMESPACE\) 'Flux_System' is not a valid namespace name/, /lowercase letters, digits and -/],
      [`${src}namespace: ${'a'.repeat(64)}\n`, /is not a valid namespace name/],
      [`${src}name: Root!\n`, /name \(FLUXLESS_NAME\) 'Root!' is not a valid object name/],
      [`${src}interval: soon\n`, /fluxless\.yaml: interval is not a duration: 'soon'/],
      [`${src}prune: "no"\n`, /prune must be true or false, got 'no'/],
      [`${src}cluster: { kubeconfig: 5 }\n`, /cluster\.kubeconfig \(FLUXLESS_KUBECONFIG\) must be a string, got number 5/],
      [`${src}cluster: { inCluster: yes }\n`, /cluster\.inCluster \(FLUXLESS_IN_CLUSTER\) must be true or false, got 'yes'/],
      [`${src}store: { type: memory }\n`, /store\.type \(FLUXLESS_STORE\) must be filesystem or s3, got 'memory'/],
      [`${src}store: { dir: [a] }\n`, /store\.dir must be a string, got a list/],
      [`${src}queue: { type: kafka }\n`, /queue\.type \(FLUXLESS_QUEUE\) must be local or sqs, got 'kafka'/],
      [`${src}aws: { region: 1 }\n`, /aws\.region \(AWS_REGION\) must be a string/],
      [`${src}webhook: { port: 70000 }\n`, /webhook\.port \(FLUXLESS_PORT\) must be a whole number from 0 to 65535, got number 70000/],
      [`${src}webhook: { port: "80" }\n`, /webhook\.port \(FLUXLESS_PORT\) must be a whole number from 0 to 65535, got '80'/],
      [`${src}webhook: { host: [a] }\n`, /webhook\.host \(FLUXLESS_HOST\) must be a string/],
      [`${src}worker: { concurrency: 0 }\n`, /worker\.concurrency \(FLUXLESS_CONCURRENCY\) must be a whole number from 1 to 1000, got number 0/],
      [`${src}worker: { concurrency: 2.5 }\n`, /worker\.concurrency .* got number 2\.5/],
      [`${src}worker: { maxReceives: 0 }\n`, /worker\.maxReceives \(FLUXLESS_MAX_RECEIVES\) must be a whole number from 1 to 1000/],
      [`${src}worker: { healthInterval: fast }\n`, /worker\.healthInterval \(FLUXLESS_HEALTH_INTERVAL\) is not a duration: 'fast'/],
      [`${src}render: { allowRemoteBases: "true" }\n`, /render\.allowRemoteBases \(FLUXLESS_ALLOW_REMOTE_BASES\) must be true or false, got 'true'/],
      [`${src}render: { toolMemoryMiB: 32 }\n`, /render\.toolMemoryMiB \(FLUXLESS_TOOL_MEMORY_MIB\) must be a whole number of MiB from 64 to/],
      [`${src}render: { kustomizeGatherMs: 20000 }\n`, /render\.kustomizeGatherMs \(FLUXLESS_KUSTOMIZE_GATHER_MS\) must be a whole number of ms from 0 to 10000/],
      [`${src}scheduleInterval: 0\n`, /scheduleInterval \(FLUXLESS_SCHEDULE_INTERVAL\) is not a duration: number 0/],
      [`${src}scheduleInterval: "0"\n`, /scheduleInterval \(FLUXLESS_SCHEDULE_INTERVAL\) must be longer than 0/],
      [`${src}applyFluxComponents: 1\n`, /applyFluxComponents \(FLUXLESS_APPLY_FLUX_COMPONENTS\) must be true or false, got number 1/],
      ['source: { url: x\n', /fluxless\.yaml: not valid YAML/],
    ];
    for (const [yaml, re, hint] of cases) refused(() => fromFile(yaml), re, hint);
    refused(() => loadConfig({ file: path.join(dir, 'missing.yaml'), env: {} }), /configuration file .*missing\.yaml not found/);
  });

  test('wrong values in the environment are refused the same way', () => {
    const env = (vars: Record<string, string>) => () => loadConfig({ env: { FLUXLESS_SOURCE_URL: URL_, ...vars } });
    refused(env({ FLUXLESS_PORT: 'http' }), /^configuration: webhook\.port \(FLUXLESS_PORT\) must be a whole number from 0 to 65535, got 'http'$/);
    refused(env({ FLUXLESS_CONCURRENCY: '8 workers' }), /worker\.concurrency \(FLUXLESS_CONCURRENCY\) .* got '8 workers'/);
    refused(env({ FLUXLESS_MAX_RECEIVES: '5000' }), /worker\.maxReceives \(FLUXLESS_MAX_RECEIVES\) must be a whole number from 1 to 1000/);
    refused(env({ FLUXLESS_IN_CLUSTER: 'yes' }), /cluster\.inCluster \(FLUXLESS_IN_CLUSTER\) must be true or false, got 'yes'/);
    refused(env({ FLUXLESS_ALLOW_REMOTE_BASES: '1' }), /render\.allowRemoteBases \(FLUXLESS_ALLOW_REMOTE_BASES\) must be true or false, got '1'/);
    refused(env({ FLUXLESS_SCHEDULE_INTERVAL: '10' }), /scheduleInterval \(FLUXLESS_SCHEDULE_INTERVAL\) is not a duration: '10'/);
    refused(env({ FLUXLESS_STORE: 'S3' }), /store\.type \(FLUXLESS_STORE\) must be filesystem or s3, got 'S3'/);
    refused(env({ FLUXLESS_NAMESPACE: 'Flux' }), /namespace \(FLUXLESS_NAMESPACE\) 'Flux' is not a valid namespace name/);
    assert.equal(loadConfig({ env: { FLUXLESS_SOURCE_URL: URL_, FLUXLESS_IN_CLUSTER: 'true', FLUXLESS_KUSTOMIZE_GATHER_MS: '25' } }).render.kustomizeGatherMs, 25);
  });

  test("feature gates: Flux's Gate=bool syntax in the environment, a map in the file, unknown gates refused", () => {
    assert.equal(loadConfig({ env: { FLUXLESS_SOURCE_URL: URL_, FLUXLESS_FEATURE_GATES: 'StrictPostBuildSubstitutions=false' } }).featureGates.StrictPostBuildSubstitutions, false);
    assert.equal(fromFile(`source: { url: ${URL_} }\nfeatureGates: { StrictPostBuildSubstitutions: false }\n`).featureGates.StrictPostBuildSubstitutions, false);
    refused(() => loadConfig({ env: { FLUXLESS_SOURCE_URL: URL_, FLUXLESS_FEATURE_GATES: 'NoSuchGate=true' } }), /featureGates: unknown gate 'NoSuchGate'/, /known gates: StrictPostBuildSubstitutions/);
    refused(() => fromFile(`source: { url: ${URL_} }\nfeatureGates: { StrictPostBuildSubstitutions: maybe }\n`), /featureGates\.StrictPostBuildSubstitutions must be true or false, got "maybe"/);
  });
});

/** A client that counts the requests it passes on, by path. */
function counting(inner: KubeClient): KubeClient & { paths: string[] } {
  const paths: string[] = [];
  return {
    paths,
    server: inner.server,
    get requestCount() {
      return paths.length;
    },
    request: (method, p, opts) => {
      paths.push(p);
      return inner.request(method, p, opts);
    },
    close: () => inner.close(),
  };
}

describe('REST mapper against the API server', () => {
  let client: KubeClient;
  before(async () => {
    client = createKubeClient(kubeConfigFrom((await (await testEnv()).cluster()).kubeconfigPath));
  });
  after(() => client?.close());

  test('core, grouped and cluster-scoped kinds, from discovery once per group-version', async () => {
    const c = counting(client);
    const m = new RestMapper(c);
    assert.deepEqual(await m.mapping('v1', 'ConfigMap'), { group: '', version: 'v1', resource: 'configmaps', kind: 'ConfigMap', namespaced: true });
    assert.deepEqual(await m.mapping('v1', 'Namespace'), { group: '', version: 'v1', resource: 'namespaces', kind: 'Namespace', namespaced: false });
    assert.deepEqual(await m.mapping('apps/v1', 'Deployment'), { group: 'apps', version: 'v1', resource: 'deployments', kind: 'Deployment', namespaced: true });
    assert.deepEqual(await m.mapping('rbac.authorization.k8s.io/v1', 'ClusterRole'), { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'clusterroles', kind: 'ClusterRole', namespaced: false });
    assert.deepEqual(c.paths, ['/api/v1', '/apis/apps/v1', '/apis/rbac.authorization.k8s.io/v1'], 'one discovery request per group-version');
    // Subresources (deployments/scale has kind Scale) are not kinds of their own.
    await assert.rejects(m.mapping('apps/v1', 'Scale'), NoKindMatchError);
  });

  test('unknown kinds and groups: a NoKindMatchError like kubectl\'s, asked again once (a CRD may have just been applied)', async () => {
    const c = counting(client);
    const m = new RestMapper(c);
    await assert.rejects(m.mapping('v1', 'Widget'), (err: unknown) => {
      assert.ok(err instanceof NoKindMatchError);
      assert.equal(err.message, 'no matches for kind "Widget" in version "v1"');
      assert.match(err.hint ?? '', /CustomResourceDefinition installed/);
      return true;
    });
    assert.deepEqual(c.paths, ['/api/v1', '/api/v1'], 'a miss refreshes the group-version once');
    await assert.rejects(m.mapping('widgets.nowhere.fluxless.test/v1', 'Widget'), /no matches for kind "Widget" in version "widgets\.nowhere\.fluxless\.test\/v1"/);
    await assert.rejects(m.mappingForGroupKind('widgets.nowhere.fluxless.test', 'Widget'), NoKindMatchError);
  });

  test('a CRD created after the first lookup is found; the preferred version serves inventory entries', async (t) => {
    const group = `m${randomBytes(3).toString('hex')}.fluxless.test`;
    const crdName = `gadgets.${group}`;
    const m = new RestMapper(client);
    await assert.rejects(m.mapping(`${group}/v1`, 'Gadget'), NoKindMatchError);
    await client.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
      body: {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: crdName },
        spec: {
          group,
          scope: 'Cluster',
          names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget', listKind: 'GadgetList' },
          versions: [
            { name: 'v1', served: true, storage: false, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } },
            { name: 'v2', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } },
          ],
        },
      },
    });
    t.after(() => client.request('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crdName}`).catch(() => undefined));
    // Discovery lags a new CRD by a moment: a consumer retries; the mapper itself must not keep the miss.
    let found: Awaited<ReturnType<RestMapper['mapping']>> | undefined;
    for (let i = 0; i < 100 && !found; i++) {
      found = await m.mapping(`${group}/v1`, 'Gadget').catch(() => undefined);
      if (!found) await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(found, { group, version: 'v1', resource: 'gadgets', kind: 'Gadget', namespaced: false });
    let preferred: Awaited<ReturnType<RestMapper['mapping']>> | undefined;
    for (let i = 0; i < 100 && !preferred; i++) {
      m.invalidate();
      preferred = await m.mappingForGroupKind(group, 'Gadget').catch(() => undefined);
      if (!preferred) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(preferred?.version, 'v2', "the API server's preferred version (the storage version)");
    assert.equal((await m.mappingForGroupKind(group, 'Gadget', 'v1')).version, 'v1');
    assert.deepEqual(await m.mappingForGroupKind('', 'ConfigMap'), { group: '', version: 'v1', resource: 'configmaps', kind: 'ConfigMap', namespaced: true });
    assert.equal((await m.mappingForGroupKind('apps', 'Deployment')).version, 'v1');
  });

  test('maxAgeMs forgets discovery; invalidate(apiVersion) forgets one group-version', async () => {
    const c = counting(client);
    const m = new RestMapper(c, { maxAgeMs: 0 });
    await m.mapping('v1', 'ConfigMap');
    await new Promise((r) => setTimeout(r, 5));
    await m.mapping('v1', 'ConfigMap');
    assert.deepEqual(c.paths, ['/api/v1', '/api/v1'], 'older than maxAgeMs: asked again');
    const c2 = counting(client);
    const m2 = new RestMapper(c2);
    await m2.mapping('v1', 'ConfigMap');
    await m2.mapping('apps/v1', 'Deployment');
    m2.invalidate('v1');
    await m2.mapping('v1', 'Secret');
    await m2.mapping('apps/v1', 'StatefulSet');
    assert.deepEqual(c2.paths, ['/api/v1', '/apis/apps/v1', '/api/v1']);
  });

  test('a failed discovery request is not remembered', async () => {
    let fail = true;
    const flaky: KubeClient = {
      server: client.server,
      requestCount: 0,
      request: (method, p, opts) => {
        if (fail) {
          fail = false;
          return Promise.reject(new Error('connection reset'));
        }
        return client.request(method, p, opts);
      },
      close: () => undefined,
    };
    const m = new RestMapper(flaky);
    await assert.rejects(m.mapping('v1', 'ConfigMap'), /connection reset/);
    assert.equal((await m.mapping('v1', 'ConfigMap')).resource, 'configmaps');
  });

  test('object paths: namespaced, cluster-scoped, the default namespace, escaped names', async () => {
    const m = new RestMapper(client);
    const cm = await m.mapping('v1', 'ConfigMap');
    const ns = await m.mapping('v1', 'Namespace');
    const dep = await m.mapping('apps/v1', 'Deployment');
    assert.equal(RestMapper.path(cm, 'team-a', 'app-config'), '/api/v1/namespaces/team-a/configmaps/app-config');
    assert.equal(RestMapper.path(cm, undefined, 'app-config'), '/api/v1/namespaces/default/configmaps/app-config');
    assert.equal(RestMapper.path(cm, 'team-a'), '/api/v1/namespaces/team-a/configmaps');
    assert.equal(RestMapper.path(ns, 'ignored', 'team-a'), '/api/v1/namespaces/team-a');
    assert.equal(RestMapper.path(dep, 'team-a', 'a:b'), '/apis/apps/v1/namespaces/team-a/deployments/a%3Ab');
    assert.deepEqual(await m.objectPath({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'team-a' } }), {
      mapping: dep,
      path: '/apis/apps/v1/namespaces/team-a/deployments/web',
    });
  });
});
