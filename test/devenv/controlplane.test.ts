import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { EXTERNAL_KUBECONFIG_ENV, findBinaries, startControlPlane } from '../../shared/devenv/controlplane.js';
import { startSupervised, waitUntil } from '../../shared/devenv/process.js';
import { EnvironmentError } from '../../shared/util/errors.js';

const external = Boolean(process.env[EXTERNAL_KUBECONFIG_ENV]);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function pidsOf(pattern: string): Promise<number[]> {
  const { execFileSync } = await import('node:child_process');
  try {
    return execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

describe('local control plane', { skip: external ? `using ${EXTERNAL_KUBECONFIG_ENV}` : false }, () => {
  test('starts, serves the API with the generated token, and stop() leaves nothing behind', async () => {
    const cp = await startControlPlane({ controllerManager: false });
    // The certificate is self-signed; use https with the token, as a kubeconfig user would.
    const https = await import('node:https');
    const status = await new Promise<number>((resolve, reject) => {
      https
        .get(`${cp.server}/api/v1/namespaces`, { rejectUnauthorized: false, headers: { authorization: `Bearer ${cp.token}` } }, (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        })
        .on('error', reject);
    });
    assert.equal(status, 200);
    const anonymous = await new Promise<number>((resolve, reject) => {
      https
        .get(`${cp.server}/api/v1/namespaces`, { rejectUnauthorized: false }, (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        })
        .on('error', reject);
    });
    assert.ok(anonymous === 401 || anonymous === 403, `anonymous request got ${anonymous}`);
    const dataDir = cp.dataDir;
    const before = await pidsOf(dataDir);
    assert.ok(before.length >= 2, 'etcd and kube-apiserver run with the data dir on their command line');
    await cp.stop();
    assert.equal(existsSync(dataDir), false, 'data dir removed');
    assert.deepEqual((await pidsOf(dataDir)).filter(alive), [], 'no process left');
  });

  test('binaries missing and install disabled: an error that says what to do', async () => {
    const saved = process.env.FLUXLESS_CACHE_DIR;
    const empty = mkdtempSync(path.join(os.tmpdir(), 'fluxless-nocache-'));
    process.env.FLUXLESS_CACHE_DIR = empty;
    try {
      assert.equal(findBinaries(), undefined);
      await assert.rejects(startControlPlane({ install: false }), (err: unknown) => {
        assert.ok(err instanceof EnvironmentError);
        assert.match(err.message, /kube-apiserver 1\.20\.2 is not built/);
        assert.match(err.message, new RegExp(EXTERNAL_KUBECONFIG_ENV));
        return true;
      });
    } finally {
      if (saved === undefined) delete process.env.FLUXLESS_CACHE_DIR;
      else process.env.FLUXLESS_CACHE_DIR = saved;
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test('not ready in time: the error names the component, and no process or temp dir is left', async () => {
    const dataDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'fluxless-slow-')), 'cp');
    await assert.rejects(startControlPlane({ readyTimeoutMs: 1, controllerManager: false, dataDir }), (err: unknown) => {
      assert.ok(err instanceof EnvironmentError);
      assert.match(err.message, /timed out after 1 ms waiting for (etcd|kube-apiserver)/);
      assert.match(err.hint ?? '', new RegExp(EXTERNAL_KUBECONFIG_ENV), 'the hint says how to use another cluster');
      return true;
    });
    assert.equal(existsSync(dataDir), false, 'data dir removed');
    assert.deepEqual((await pidsOf(dataDir)).filter(alive), [], 'no process left');
    rmSync(path.dirname(dataDir), { recursive: true, force: true });
  });

  test('a port in use: the server error says so', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fluxless-etcd-'));
    const bins = findBinaries()!;
    const proc = startSupervised({
      name: 'etcd',
      command: bins.etcd,
      args: [`--data-dir=${dir}/d`, `--listen-client-urls=http://127.0.0.1:${port}`, `--advertise-client-urls=http://127.0.0.1:${port}`],
      cleanupDir: dir,
    });
    try {
      await assert.rejects(
        waitUntil('etcd to become healthy', async () => false, { timeoutMs: 20_000, proc }),
        (err: unknown) => {
          assert.ok(err instanceof EnvironmentError);
          assert.match(err.message, /etcd exited/);
          assert.match(err.message, /address already in use/);
          return true;
        },
      );
    } finally {
      await proc.stop();
      blocker.close();
    }
    assert.equal(existsSync(dir), false);
    assert.equal(alive(proc.pid), false);
  });
});
