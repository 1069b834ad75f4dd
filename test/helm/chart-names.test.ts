/**
 * Chart names and versions come from whoever published a chart (a dependency's Chart.yaml,
 * a pulled OCI chart): a name or version with a path in it fails the build, naming the
 * dependency, and nothing is written outside the build's own charts/ directory (nor into
 * the helm runner's home, which later commands read plugins and configuration from).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ChartBuildError } from '../../shared/helm/errors.js';
import { buildArtifact } from '../../shared/artifacts/build.js';
import { buildLocalChart } from '../../shared/helm/chart-build.js';
import { sharedRunner, tempDir } from './helpers.js';

async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), text);
  }
}

const APP = 'apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- name: dep\n  version: "*"\n  repository: ';

describe('chart names from chart metadata do not choose file paths', () => {
  test('a file:// dependency whose Chart.yaml name climbs out of charts/ fails the build and writes nothing outside', async () => {
    const runner = await sharedRunner();
    const outside = await tempDir('fluxless-outside-');
    for (const name of [`${'../'.repeat(40)}${outside.slice(1)}/escaped`, '../../../../../data/plugins/planted', '..']) {
      const src = await tempDir();
      await writeTree(src, { 'chart/Chart.yaml': `${APP}file://../dep\n`, 'chart/values.yaml': '', 'dep/Chart.yaml': `apiVersion: v2\nname: ${JSON.stringify(name)}\nversion: 1.0.0\n`, 'dep/plugin.yaml': 'name: planted\n' });
      await assert.rejects(buildLocalChart({ runner, sourceDir: src, chartPath: 'chart' }), (err: unknown) => {
        assert.ok(err instanceof ChartBuildError, String(err));
        assert.equal(err.reason, 'DependencyBuildError');
        assert.match(err.message, /failed to add local dependency 'dep'.*chart\.metadata\.name .* is (invalid|not allowed)/);
        return true;
      });
    }
    assert.deepEqual(readdirSync(outside), []);
    assert.equal(existsSync(path.join(runner.home, 'data', 'plugins', 'planted')), false, 'nothing planted in the helm home');
  });

  test('an OCI dependency whose pulled chart has a path in its name or version fails the build', async () => {
    const runner = await sharedRunner();
    const outside = await tempDir('fluxless-outside-');
    for (const md of [`name: ${JSON.stringify('../'.repeat(40) + outside.slice(1) + '/by-name')}\nversion: 1.0.0`, `name: dep\nversion: ${JSON.stringify('1.0.0/' + '../'.repeat(40) + outside.slice(1) + '/by-version')}`]) {
      // What a hostile registry serves for the dependency: a chart archive with that Chart.yaml.
      const made = await tempDir();
      await writeTree(made, { 'dep/Chart.yaml': `apiVersion: v2\n${md}\n` });
      const pulled = (await buildArtifact(made)).tarGz;
      const src = await tempDir();
      await writeTree(src, { 'chart/Chart.yaml': `${APP}oci://registry.example/charts\n`, 'chart/values.yaml': '' });
      await assert.rejects(
        buildLocalChart({ runner, sourceDir: src, chartPath: 'chart', resolveRepository: async () => ({ oci: { pull: async () => pulled } }) }),
        (err: unknown) => err instanceof ChartBuildError && err.reason === 'DependencyBuildError' && /failed to add remote dependency 'dep'.*chart\.metadata\.(name|version) .* is invalid/.test(err.message),
      );
    }
    assert.deepEqual(readdirSync(outside), []);
  });
});
