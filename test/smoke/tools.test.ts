import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { testEnv } from '../harness/index.js';

const run = promisify(execFile);
const fixtures = path.resolve('test/fixtures/smoke');

test('kubectl kustomize from the layer package builds a fixture', async () => {
  const { kubectl } = await (await testEnv()).tools();
  const { stdout } = await run(kubectl, ['kustomize', path.join(fixtures, 'kustomize/base')]);
  const docs = parseAllDocuments(stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string; labels: Record<string, string> } });
  assert.equal(docs.length, 1);
  assert.equal(docs[0].kind, 'ConfigMap');
  assert.equal(docs[0].metadata.name, 'smoke-settings');
  assert.equal(docs[0].metadata.labels['app.kubernetes.io/part-of'], 'smoke');
});

test('helm template from the layer package renders a chart with values', async () => {
  const { helm } = await (await testEnv()).tools();
  const { stdout } = await run(helm, ['template', 'demo', path.join(fixtures, 'chart'), '--set', 'message=hi']);
  const docs = parseAllDocuments(stdout).map((d) => d.toJS() as { metadata: { name: string }; data: Record<string, string> });
  assert.equal(docs.length, 1);
  assert.equal(docs[0].metadata.name, 'demo-config');
  assert.equal(docs[0].data.message, 'hi');
});

test('docker-registry stores a Helm OCI chart and lists its tags', async () => {
  const env = await testEnv();
  const { helm } = await env.tools();
  const { host } = await env.registry();
  const work = mkdtempSync(path.join(os.tmpdir(), 'fluxless-smoke-'));
  try {
    const helmEnv = { ...process.env, HELM_CONFIG_HOME: path.join(work, 'config'), HELM_CACHE_HOME: path.join(work, 'cache') };
    await run(helm, ['package', path.join(fixtures, 'chart'), '-d', work], { env: helmEnv });
    await run(helm, ['push', path.join(work, 'smoke-0.1.0.tgz'), `oci://${host}/charts`, '--plain-http'], { env: helmEnv });
    const res = await fetch(`http://${host}/v2/charts/smoke/tags/list`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { name: string; tags: string[] };
    assert.equal(body.name, 'charts/smoke');
    assert.deepEqual(body.tags, ['0.1.0']);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
