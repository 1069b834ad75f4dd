/**
 * The release manifest check that lets helm skip its client-side OpenAPI validation
 * (shared/helm/validation-*.ts), against the real API server's /openapi/v2 and the real
 * kubectl and helm: what the check passes, kubectl's validation passes too, and a manifest it
 * does not pass gets helm's own validation, so users see helm's messages and nothing is
 * installed.
 */
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { testEnv, type TestEnv } from '../harness/index.js';
import { createKubeClient, type KubeClient } from '../../shared/kube/client.js';
import { HelmRunner } from '../../shared/helm/runner.js';
import { HelmCommandError } from '../../shared/helm/errors.js';
import { defaultLauncher, type Launcher } from '../../shared/helm/launcher.js';
import { readLatestRelease } from '../../shared/helm/storage.js';
import { ValidationSource } from '../../shared/helm/validation-source.js';
import { ensureTools } from '../../shared/render/tools.js';
import { atEnd, tempDir } from './helpers.js';

const run = promisify(execFile);

let env: TestEnv;
let client: KubeClient;
let kubeconfigPath: string;
let kubectl: string;
let dir: string;

before(async () => {
  env = await testEnv();
  const cluster = await env.cluster();
  kubeconfigPath = cluster.kubeconfigPath;
  client = createKubeClient(cluster.kubeConfig());
  atEnd(async () => client.close());
  kubectl = (await ensureTools()).kubectl;
  dir = await tempDir('fluxless-validation-test-');
});

/** kubectl's own client-side validation of a manifest: its "error validating" text, or undefined. */
async function kubectlValidation(name: string, manifest: string): Promise<string | undefined> {
  const file = path.join(dir, `${name}.yaml`);
  await writeFile(file, manifest);
  try {
    await run(kubectl, ['--kubeconfig', kubeconfigPath, 'create', '--dry-run=client', '--validate=true', '-o', 'name', '-f', file]);
    return undefined;
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? err);
    return /error validating/.test(stderr) ? stderr : undefined;
  }
}

const deployment = (spec: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
${spec}`;

const podTemplate = `  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
        ports: [{containerPort: 80, protocol: TCP}]
        resources: {limits: {cpu: 1, memory: 64Mi}, requests: {cpu: "100m"}}
`;

/** name -> manifest and whether the check passes it. `conservative`: the check does not pass it though kubectl might. */
const CASES: Record<string, { manifest: string; passes: boolean; conservative?: boolean }> = {
  deployment: { manifest: deployment(`  replicas: 0\n${podTemplate}`), passes: true },
  octalReplicas: { manifest: deployment(`  replicas: 010\n${podTemplate}`), passes: true },
  yes11Bool: { manifest: `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\nautomountServiceAccountToken: yes\n`, passes: true },
  nullFieldSkipped: { manifest: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  bogus: null\ndata: {a: "1"}\n`, passes: true },
  intOrString: { manifest: `apiVersion: v1\nkind: Service\nmetadata: {name: svc}\nspec:\n  selector: {app: web}\n  ports:\n  - {port: 80, targetPort: http, protocol: TCP}\n  - {port: 81, targetPort: 8081, protocol: TCP}\n`, passes: true },
  unknownKind: { manifest: `apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {anything: [1, 2]}\n`, passes: true },
  twoDocuments: { manifest: `---\n# Source: a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\nstringData: {k: v}\n`, passes: true },
  unknownField: { manifest: `apiVersion: v1\nkind: Service\nmetadata: {name: svc}\nspec:\n  bogus: 1\n  ports: [{port: 80}]\n`, passes: false },
  unknownMetadataField: { manifest: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  labelz: {a: b}\n`, passes: false },
  stringForInteger: { manifest: deployment(`  replicas: "abc"\n${podTemplate}`), passes: false },
  goOctalPrefix: { manifest: deployment(`  replicas: 0o10\n${podTemplate}`), passes: true },
  hexReplicas: { manifest: deployment(`  replicas: 0x1F\n${podTemplate}`), passes: true },
  sexagesimalIsAString: { manifest: deployment(`  replicas: 1:20\n${podTemplate}`), passes: false },
  stringForBoolean: { manifest: `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\nautomountServiceAccountToken: "true"\n`, passes: false },
  mapForString: { manifest: `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata:\n  a: {b: c}\n`, passes: false },
  missingRequired: { manifest: deployment(`  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{image: nginx}]\n`), passes: false },
  nullInList: { manifest: `apiVersion: v1\nkind: Service\nmetadata: {name: svc}\nspec:\n  ports:\n  - {port: 80}\n  -\n`, passes: false },
  arrayForMap: { manifest: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  labels: [a]\n`, passes: false },
  list: { manifest: `apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n`, passes: false, conservative: true },
  separatorWithContent: { manifest: `--- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n`, passes: false, conservative: true },
};

describe('release manifest validation against the cluster OpenAPI document', () => {
  test('passes what kubectl validation passes, and nothing it refuses', async () => {
    const source = new ValidationSource(client);
    for (const [name, c] of Object.entries(CASES)) {
      const problem = await source.problem(c.manifest);
      assert.equal(problem === undefined, c.passes, `${name}: ${problem ?? 'passed'}`);
      const kubectlSays = await kubectlValidation(name, c.manifest);
      // What the check passes, kubectl's validation passes (on any cluster)...
      if (problem === undefined) assert.equal(kubectlSays, undefined, `${name}: the check passed what kubectl refuses: ${kubectlSays}`);
      // ...and what kubectl passes, the check passes, except where it is conservative on purpose.
      if (kubectlSays === undefined && !c.conservative && (await clientSideValidation())) assert.equal(problem, undefined, `${name}: kubectl passes it`);
    }
  });

  test('a CRD created after the first check is validated by the next one', async () => {
    const source = new ValidationSource(client);
    const group = `v${Date.now().toString(36)}.fluxless.test`;
    const cr = (size: string) => `apiVersion: ${group}/v1\nkind: Gadget\nmetadata: {name: g}\nspec:\n  size: ${size}\n  extra: {free: [form]}\n`;
    assert.equal(await source.problem(cr('"big"')), undefined, 'no model yet: kubectl skips the kind');
    await client.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
      body: {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: `gadgets.${group}` },
        spec: {
          group,
          scope: 'Namespaced',
          names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: {
                    spec: { type: 'object', properties: { size: { type: 'integer' }, extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } },
                  },
                },
              },
            },
          ],
        },
      },
    });
    atEnd(() => client.request('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.${group}`).catch(() => undefined));
    // The API server publishes a new CRD's schema a moment after it is created.
    const deadline = Date.now() + 60_000;
    let problem: string | undefined;
    while ((problem = await source.problem(cr('"big"'))) === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    assert.match(problem ?? '', /string where integer expected/);
    assert.equal(await source.problem(cr('3')), undefined);
    if (await clientSideValidation()) {
      assert.match((await kubectlValidation('gadget-bad', cr('"big"'))) ?? '', /error validating/);
      assert.equal(await kubectlValidation('gadget-ok', cr('3')), undefined);
    }
  });
});

let clientSide: boolean | undefined;
/** Whether kubectl and helm validate on the client here (API servers before 1.27 have no server-side field validation to defer to). */
async function clientSideValidation(): Promise<boolean> {
  if (clientSide === undefined) {
    const v = await client.request<{ major: string; minor: string }>('GET', '/version');
    clientSide = Number(v.major) === 1 && parseInt(v.minor, 10) < 27;
  }
  return clientSide;
}

async function chartWith(name: string, template: string): Promise<string> {
  const root = path.join(dir, 'charts', name);
  await mkdir(path.join(root, 'templates'), { recursive: true });
  await writeFile(path.join(root, 'Chart.yaml'), `apiVersion: v2\nname: ${name}\nversion: 1.0.0\n`);
  await writeFile(path.join(root, 'templates', 'all.yaml'), template);
  return root;
}

describe('helm install and upgrade with the manifest check', () => {
  let seen: string[][];
  let checked: HelmRunner;
  let plain: HelmRunner;

  before(async () => {
    seen = [];
    const recording: Launcher = (file, args, opts) => {
      seen.push(args);
      return defaultLauncher()(file, args, opts);
    };
    const source = new ValidationSource(client);
    checked = await HelmRunner.create({ kubeconfigPath, launcher: recording, manifestCheck: (m, s) => source.problem(m, s) });
    plain = await HelmRunner.create({ kubeconfigPath });
    atEnd(() => checked.close());
    atEnd(() => plain.close());
  });

  const origin = { postRenderers: [], origin: { name: 'app', namespace: 'flux-system' } };
  const releaseCommands = () => seen.filter((a) => a[0] === 'install' || a[0] === 'upgrade');

  test('a manifest the check passes is installed and upgraded by one helm command each, without helm validation', async (t) => {
    const ns = await env.namespace(t, 'hval');
    const chart = await chartWith('good', `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  size: {{ .Values.size | quote }}\n`);
    seen.length = 0;
    const rel = await checked.install({ releaseName: 'good', namespace: ns, chartPath: chart, values: { size: 1 }, postRender: origin });
    assert.equal(rel?.info?.status, 'deployed');
    await checked.upgrade({ releaseName: 'good', namespace: ns, chartPath: chart, values: { size: 2 }, postRender: origin });
    const cmds = releaseCommands();
    assert.equal(cmds.length, 2);
    for (const c of cmds) assert.ok(c.includes('--disable-openapi-validation'), c.join(' '));
    const cm = await client.request<{ data: Record<string, string>; metadata: { labels: Record<string, string> } }>('GET', `/api/v1/namespaces/${ns}/configmaps/good`);
    assert.equal(cm.data.size, '2');
    assert.equal(cm.metadata.labels['helm.toolkit.fluxcd.io/name'], 'app');
  });

  test('a manifest the check does not pass fails as helm fails it, and nothing is installed', async (t) => {
    const ns = await env.namespace(t, 'hval');
    const chart = await chartWith('bad', `apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  bogus: 1\n  ports: [{port: 80, protocol: TCP}]\n`);
    const failure = async (r: HelmRunner, name: string) => {
      const err = await r.install({ releaseName: name, namespace: ns, chartPath: chart, values: {}, postRender: origin }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof HelmCommandError, String(err));
      return err;
    };
    seen.length = 0;
    const ours = await failure(checked, 'bad-a');
    const helms = await failure(plain, 'bad-b');
    assert.equal(ours.kind, helms.kind);
    assert.equal(ours.message.replaceAll('bad-a', 'X'), helms.message.replaceAll('bad-b', 'X'));
    // The first command stopped at the check; the second ran with helm's own validation.
    const cmds = releaseCommands();
    assert.equal(cmds.length, 2);
    assert.ok(cmds[0].includes('--disable-openapi-validation'));
    assert.ok(!cmds[1].includes('--disable-openapi-validation'));
    assert.equal(await readLatestRelease(client, ns, 'bad-a'), undefined);
    await assert.rejects(client.request('GET', `/api/v1/namespaces/${ns}/services/bad-a`), /not found/i);
  });

  test('disableOpenAPIValidation and dry runs run helm once, as asked', async (t) => {
    const ns = await env.namespace(t, 'hval');
    const chart = await chartWith('asked', `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n  labelz: {a: b}\n`);
    seen.length = 0;
    await assert.rejects(checked.install({ releaseName: 'asked', namespace: ns, chartPath: chart, values: {}, postRender: origin, disableOpenAPIValidation: true }), HelmCommandError);
    await assert.rejects(checked.install({ releaseName: 'asked', namespace: ns, chartPath: chart, values: {}, postRender: origin, dryRun: true }), HelmCommandError);
    const cmds = releaseCommands();
    assert.equal(cmds.length, 2);
    assert.ok(cmds[0].includes('--disable-openapi-validation'));
    assert.ok(!cmds[1].includes('--disable-openapi-validation'));
  });
});
