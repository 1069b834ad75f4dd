/** Debian's docker-registry (distribution 2.8) on loopback, storage in a temp dir. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EnvironmentError } from '../../shared/util/errors.js';
import { freePort, startSupervised, waitUntil } from '../../shared/devenv/process.js';

export interface RegistryInfo {
  /** host:port, e.g. 127.0.0.1:5000 (plain HTTP). */
  host: string;
}

export async function startRegistry(): Promise<RegistryInfo & { stop(): Promise<void> }> {
  const bin = '/usr/bin/docker-registry';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fluxless-registry-'));
  const port = await freePort();
  const config = path.join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  const proc = startSupervised({ name: 'docker-registry', command: bin, args: ['serve', config], cleanupDir: dir });
  const host = `127.0.0.1:${port}`;
  await waitUntil(
    'docker-registry to answer /v2/',
    async () => (await fetch(`http://${host}/v2/`)).status === 200,
    { timeoutMs: 20_000, proc, hint: "install it with 'apt-get install docker-registry' (npm run setup does)" },
  ).catch((err: unknown) => {
    void proc.stop();
    throw err instanceof EnvironmentError ? err : new EnvironmentError(String(err));
  });
  return { host, stop: () => proc.stop() };
}
