/**
 * Target clusters (shared/kube/targets.ts) against the real API server: kubeconfig Secrets
 * read and sanitised as Flux does (key precedence, exact messages, file and exec credentials
 * never used), impersonation headers and the RBAC answer they get, one client and one
 * discovery cache per cluster, idle clients closed, an unreachable cluster named.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { createKubeClient, KubeApiError, type KubeClient, type RequestOptions } from '../../shared/kube/client.js';
import { RestMapper } from '../../shared/kube/mapper.js';
import { kubeConfigFromSecretData, KubeConfigRefError, sanitizeKubeConfig } from '../../shared/kube/remote-kubeconfig.js';
import { ClusterUnreachableError, closeTargetClusters, MANAGEMENT_CLUSTER, resolveTarget, targetClustersOf } from '../../shared/kube/targets.js';
import type { ReconcileSettings } from '../../shared/reconcile/contract.js';
import { testEnv } from '../harness/index.js';

const SETTINGS: ReconcileSettings = { healthIntervalMs: 200, allowRemoteBases: false, toolMemoryMiB: 1024, applyFluxComponents: false };

/** A management client that records every request's headers (impersonation is a header). */
function recording(base: KubeClient): KubeClient & { seen: Array<{ method: string; path: string; headers: Record<string, string> }> } {
  const seen: Array<{ method: string; path: string; headers: Record<string, string> }> = [];
  return {
    server: base.server,
    seen,
    request<T>(method: string, p: string, opts: RequestOptions = {}) {
      seen.push({ method, path: p, headers: { ...opts.headers } });
      return base.request<T>(method, p, opts);
    },
    get requestCount() {
      return base.requestCount;
    },
    close: () => base.close(),
  };
}

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function setup() {
  const env = await testEnv();
  const cluster = await env.cluster();
  const admin = createKubeClient(cluster.kubeConfig());
  const kubeconfig = readFileSync(cluster.kubeconfigPath, 'utf8');
  return { env, cluster, admin, kubeconfig };
}

async function putSecret(c: KubeClient, ns: string, name: string, data: Record<string, string>): Promise<void> {
  const body = { metadata: { name }, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) };
  try {
    await c.request('POST', `/api/v1/namespaces/${ns}/secrets`, { body });
  } catch (err) {
    if (!(err instanceof KubeApiError) || err.status !== 409) throw err;
    await c.request('PUT', `/api/v1/namespaces/${ns}/secrets/${name}`, { body });
  }
}

/** The admin kubeconfig with its cluster renamed, and the user's token replaced by `user`. */
function variant(kubeconfig: string, clusterName: string, user: Record<string, unknown> | undefined): string {
  const doc = parseYaml(kubeconfig) as { clusters: Array<{ name: string }>; contexts: Array<{ context: { cluster: string } }>; users: Array<{ user: Record<string, unknown> }> };
  doc.clusters[0].name = clusterName;
  doc.contexts[0].context.cluster = clusterName;
  if (user) doc.users[0].user = user;
  return toYaml(doc);
}

describe('kubeconfig Secrets (spec.kubeConfig.secretRef)', () => {
  test("key precedence: 'value' before 'value.yaml'; an explicit key has no fallback; Flux's messages", () => {
    const b = (s: string) => Buffer.from(s).toString('base64');
    assert.equal(kubeConfigFromSecretData({ value: b('A'), 'value.yaml': b('B') }, 'ns/kc', { name: 'kc' }), 'A');
    assert.equal(kubeConfigFromSecretData({ 'value.yaml': b('B') }, 'ns/kc', { name: 'kc' }), 'B');
    assert.equal(kubeConfigFromSecretData({ value: b('A'), mine: b('C') }, 'ns/kc', { name: 'kc', key: 'mine' }), 'C');
    assert.throws(() => kubeConfigFromSecretData({ value: b('A') }, 'ns/kc', { name: 'kc', key: 'foo' }), {
      message: "KubeConfig secret 'ns/kc' does not contain a 'foo' key with a kubeconfig",
    });
    assert.throws(() => kubeConfigFromSecretData({ other: b('A') }, 'ns/kc', { name: 'kc' }), {
      message: "KubeConfig secret 'ns/kc' does not contain a 'value' key with a kubeconfig",
    });
    // helm-controller words them differently.
    assert.throws(() => kubeConfigFromSecretData({ other: b('A') }, 'ns/kc', { name: 'kc' }, 'helmrelease'), {
      message: "KubeConfig secret 'ns/kc' does not contain a 'value' or 'value.yaml' key with data",
    });
    assert.throws(() => kubeConfigFromSecretData({}, 'ns/kc', { name: 'kc', key: 'foo' }, 'helmrelease'), {
      message: "KubeConfig secret 'ns/kc' does not contain a 'foo' key with data",
    });
  });

  test('sanitising keeps in-line credentials and drops files, auth providers, impersonation, exec and insecure TLS', () => {
    const text = toYaml({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'c',
      contexts: [{ name: 'c', context: { cluster: 'edge', user: 'u' } }],
      clusters: [{ name: 'edge', cluster: { server: 'https://10.0.0.1:6443/', 'certificate-authority': '/etc/ca.crt', 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 'abc', tokenFile: '/etc/token', as: 'root', exec: { command: 'aws' }, 'auth-provider': { name: 'oidc' } } }],
    });
    const r = sanitizeKubeConfig(text, 'test');
    assert.equal(r.server, 'https://10.0.0.1:6443');
    assert.equal(r.clusterName, 'edge');
    assert.deepEqual(r.dropped.sort(), ['cluster.certificate-authority', 'cluster.insecure-skip-tls-verify', 'user.as', 'user.auth-provider', 'user.exec', 'user.tokenFile'].sort());
    const user = r.kubeConfig.getCurrentUser()!;
    assert.equal(user.token, 'abc');
    assert.equal(user.exec, undefined);
    assert.equal(user.impersonateUser, undefined);
    assert.equal(r.kubeConfig.getCurrentCluster()!.skipTLSVerify, false);
    const insecure = sanitizeKubeConfig(text, 'test', { insecureExec: true, insecureTLS: true });
    assert.deepEqual(insecure.kubeConfig.getCurrentUser()!.exec, { command: 'aws' });
    assert.equal(insecure.kubeConfig.getCurrentCluster()!.skipTLSVerify, true);
    assert.notEqual(insecure.fingerprint, r.fingerprint, 'what is kept decides the cache key');
    assert.throws(() => sanitizeKubeConfig('current-context: nope\ncontexts: []\n', 'Secret x'), KubeConfigRefError);
  });

  test("a missing Secret fails with Flux's message; a tokenFile or exec credential is never used (401), nothing is run", async (t) => {
    const { env, admin, kubeconfig } = await setup();
    t.after(() => admin.close());
    const ns = await env.namespace(t, 'tgt');
    const svc = { client: admin, mapper: new RestMapper(admin), settings: SETTINGS };
    await assert.rejects(resolveTarget(svc, { namespace: ns, kubeConfig: { secretRef: { name: 'kc' } } }), {
      message: `unable to read KubeConfig secret '${ns}/kc' error: secrets "kc" not found`,
    });
    await assert.rejects(resolveTarget(svc, { namespace: ns, kubeConfig: { secretRef: { name: 'kc' } }, messages: 'helmrelease' }), (err: unknown) => {
      assert.ok(err instanceof KubeConfigRefError && err.notFound, 'helm-controller skips the uninstall when the Secret is gone');
      assert.equal(err.message, `could not get KubeConfig secret '${ns}/kc': secrets "kc" not found`);
      return true;
    });

    // The admin token in a file the tenant names: if Fluxless read it, the request would succeed.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fluxless-tgt-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const adminToken = (parseYaml(kubeconfig) as { users: Array<{ user: { token: string } }> }).users[0].user.token;
    writeFileSync(path.join(dir, 'token'), adminToken);
    const marker = path.join(dir, 'exec-ran');
    await putSecret(admin, ns, 'kc', {
      value: variant(kubeconfig, 'edge-file', { tokenFile: path.join(dir, 'token'), 'token-file': path.join(dir, 'token') }),
    });
    await putSecret(admin, ns, 'kc-exec', {
      value: variant(kubeconfig, 'edge-exec', {
        exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: '/bin/sh', args: ['-c', `touch ${marker}; echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"${adminToken}"}}'`] },
      }),
    });
    for (const name of ['kc', 'kc-exec']) {
      const target = await resolveTarget(svc, { namespace: ns, kubeConfig: { secretRef: { name } } });
      try {
        assert.equal(target.remote, true);
        assert.equal(target.cluster.server, (await env.cluster()).kubeConfig().getCurrentCluster()!.server.replace(/\/+$/, ''));
        // No credential is sent: the API server sees an anonymous request (401, or 403 for system:anonymous).
        await assert.rejects(target.client.request('GET', `/api/v1/namespaces/${ns}/configmaps`), (err: unknown) => {
          assert.ok(err instanceof KubeApiError && (err.status === 401 || (err.status === 403 && /system:anonymous/.test(err.message))), String(err));
          return true;
        });
      } finally {
        target.release();
      }
    }
    assert.equal(existsSync(marker), false, 'the exec command must not run');
    closeTargetClusters(admin);
  });
});

describe('impersonation and the per-cluster cache', () => {
  test('serviceAccountName: every request impersonates system:serviceaccount:<ns>:<name>; RBAC answers as for the account', async (t) => {
    const { env, admin } = await setup();
    t.after(() => admin.close());
    const ns = await env.namespace(t, 'tgt');
    await admin.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { body: { metadata: { name: 'tenant' } } });
    await admin.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, {
      body: { metadata: { name: 'tenant' }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['*'] }] },
    });
    await admin.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
      body: { metadata: { name: 'tenant' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'tenant' }, subjects: [{ kind: 'ServiceAccount', name: 'tenant', namespace: ns }] },
    });
    const rec = recording(admin);
    const svc = { client: rec, mapper: new RestMapper(rec), settings: SETTINGS };
    const target = await resolveTarget(svc, { namespace: ns, serviceAccountName: 'tenant' });
    assert.equal(target.remote, false);
    assert.equal(target.cluster.name, MANAGEMENT_CLUSTER);
    assert.equal(target.impersonate, `system:serviceaccount:${ns}:tenant`);
    // A new RoleBinding reaches the API server's RBAC cache a moment after it is created.
    for (let i = 0; ; i++) {
      try {
        await target.client.request('GET', `/api/v1/namespaces/${ns}/configmaps`);
        break;
      } catch (err) {
        if (i >= 50 || !(err instanceof KubeApiError) || err.status !== 403) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await assert.rejects(target.client.request('GET', '/api/v1/namespaces'), (err: unknown) => {
      assert.ok(err instanceof KubeApiError && err.status === 403);
      assert.match(err.message, new RegExp(`User "system:serviceaccount:${ns}:tenant" cannot list resource "namespaces"`));
      return true;
    });
    // Every request (the RBAC retries above included) impersonates the account, and nothing else was sent.
    assert.ok(rec.seen.length >= 2);
    assert.deepEqual(new Set(rec.seen.map((s) => s.headers['Impersonate-User'])), new Set([`system:serviceaccount:${ns}:tenant`]));
    assert.equal(rec.seen.at(-1)?.path, '/api/v1/namespaces');
    assert.ok(rec.seen.every((s) => !('Impersonate-Group' in s.headers)), 'Flux impersonates the user only');

    // The default ServiceAccount applies when the object sets none, unless the object is exempt.
    const dflt = await resolveTarget({ ...svc, settings: { ...SETTINGS, defaultServiceAccount: 'default' } as ReconcileSettings }, { namespace: ns });
    assert.equal(dflt.impersonate, `system:serviceaccount:${ns}:default`);
    const exempt = await resolveTarget({ ...svc, settings: { ...SETTINGS, defaultServiceAccount: 'default' } as ReconcileSettings }, { namespace: ns, useDefaultServiceAccount: false });
    assert.equal(exempt.impersonate, undefined);
    assert.equal(exempt.client, rec, 'no impersonation, no field: the management client itself');
  });

  test('one client and one discovery per cluster; a rotated kubeconfig is a new cluster entry; unused entries close', async (t) => {
    const { env, admin, kubeconfig } = await setup();
    t.after(() => admin.close());
    const ns = await env.namespace(t, 'tgt');
    await putSecret(admin, ns, 'kc', { value: variant(kubeconfig, 'edge-1', undefined) });
    const settings = { ...SETTINGS, remoteIdleMs: 0 } as ReconcileSettings;
    const svc = { client: admin, mapper: new RestMapper(admin), settings };
    const a = await resolveTarget(svc, { namespace: ns, kubeConfig: { secretRef: { name: 'kc' } } });
    const b = await resolveTarget(svc, { namespace: ns, kubeConfig: { secretRef: { name: 'kc' } }, serviceAccountName: 'x' });
    assert.equal(a.cluster.name, 'edge-1');
    assert.equal(a.mapper, b.mapper, 'discovery is shared by every reconcile on the cluster');
    assert.equal(targetClustersOf(admin).size, 1);
    const cm = await a.client.request<{ items: unknown[] }>('GET', `/api/v1/namespaces/${ns}/configmaps`);
    assert.ok(Array.isArray(cm.items));
    // Rotation: the Secret changes, the next resolve uses the new content.
    await putSecret(admin, ns, 'kc', { value: variant(kubeconfig, 'edge-1-rotated', undefined) });
    const c = await resolveTarget(svc, { namespace: ns, kubeConfig: { secretRef: { name: 'kc' } } });
    assert.equal(c.cluster.name, 'edge-1-rotated');
    assert.notEqual(c.mapper, a.mapper);
    assert.equal(targetClustersOf(admin).size, 2);
    a.release();
    b.release();
    c.release();
    c.release(); // releasing twice is harmless
    // remoteIdleMs 0: the close timers run before this later timer.
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(targetClustersOf(admin).size, 0);
    closeTargetClusters(admin);
  });

  test('an unreachable remote cluster is named in the error; the management cluster is untouched', async (t) => {
    const { env, admin, kubeconfig } = await setup();
    t.after(() => admin.close());
    const ns = await env.namespace(t, 'tgt');
    const port = await closedPort();
    const doc = parseYaml(variant(kubeconfig, 'edge-down', undefined)) as { clusters: Array<{ cluster: { server: string } }> };
    doc.clusters[0].cluster.server = `https://127.0.0.1:${port}`;
    await putSecret(admin, ns, 'kc', { value: toYaml(doc) });
    const svc = { client: admin, mapper: new RestMapper(admin), settings: SETTINGS };
    const target = await resolveTarget(svc, { namespace: ns, kubeConfig: { secretRef: { name: 'kc' } } });
    try {
      await assert.rejects(target.client.request('GET', '/api/v1/namespaces'), (err: unknown) => {
        assert.ok(err instanceof ClusterUnreachableError);
        assert.equal(err.code, 'Unreachable', 'the apply engine still sees an unavailable API server');
        assert.match(err.message, new RegExp(`^cluster 'edge-down' \\(https://127\\.0\\.0\\.1:${port}\\) is unreachable: `));
        return true;
      });
      await admin.request('GET', `/api/v1/namespaces/${ns}`);
    } finally {
      target.release();
      closeTargetClusters(admin);
    }
  });
});
