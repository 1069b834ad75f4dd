/**
 * A packaged chart is read into memory only within Helm's own loader limits (100 MiB
 * decompressed, 5 MiB per file), and refused with Helm's words: a small archive that
 * decompresses to gigabytes cannot exhaust the worker's memory. The messages are compared
 * with what the real `helm` binary says about the same archive.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chartCrds, packChart, setChartVersion } from '../../shared/helm/chart-files.js';
import { chartMetadataFromArchive, readChartArchive } from '../../shared/helm/chart-archive.js';
import { sharedRunner, tempDir } from './helpers.js';

const CHART_YAML = Buffer.from('apiVersion: v2\nname: big\nversion: 1.0.0\n');
const CRD = (name: string) =>
  Buffer.from(`apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: ${name}.example.com\nspec:\n  group: example.com\n`);

/** What `helm show chart` says about the archive (its error line), or '' when it loads. */
async function helmSays(tgz: Buffer): Promise<string> {
  const runner = await sharedRunner();
  const file = path.join(await tempDir(), 'chart.tgz');
  await writeFile(file, tgz);
  try {
    await runner.exec('show', ['show', 'chart', file], { timeoutMs: 60_000 });
    return '';
  } catch (err) {
    return String((err as Error).message);
  }
}

async function ourError(tgz: Buffer): Promise<string> {
  try {
    await setChartVersion(tgz, '1.0.0+abc');
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

describe('packaged charts are read within Helm loader limits', () => {
  test('a file over 5 MiB is refused as helm refuses it', async () => {
    const tgz = packChart('big', new Map([['Chart.yaml', CHART_YAML], ['templates/big.yaml', Buffer.alloc((5 << 20) + 1, 0x23)]]));
    const ours = await ourError(tgz);
    assert.equal(ours, 'decompressed chart file "big/templates/big.yaml" is larger than the maximum file size 5242880');
    assert.ok((await helmSays(tgz)).includes(ours), 'helm says the same');
    // Reading only the metadata, as source-controller does, does not look at other files.
    assert.equal((await chartMetadataFromArchive(tgz)).name, 'big');
  });

  test('an archive that decompresses past 100 MiB is refused as helm refuses it, CRD reading included', async () => {
    const files = new Map<string, Buffer>([['Chart.yaml', CHART_YAML]]);
    for (let i = 0; i < 21; i++) files.set(`files/f${i}.txt`, Buffer.alloc(5 << 20, 0x23));
    const tgz = packChart('big', files);
    assert.ok(tgz.length < 1 << 20, 'the archive itself is small');
    const ours = await ourError(tgz);
    assert.equal(ours, 'decompressed chart is larger than the maximum size 104857600');
    assert.ok((await helmSays(tgz)).includes(ours), 'helm says the same');
    await assert.rejects(chartCrds(tgz), { message: ours });
  });

  test('a chart at the limits loads, and CRD reading keeps only crds/ and subcharts', async () => {
    const files = new Map<string, Buffer>([['Chart.yaml', CHART_YAML], ['crds/a.yaml', CRD('as')]]);
    for (let i = 0; i < 19; i++) files.set(`files/f${i}.txt`, Buffer.alloc(5 << 20, 0x23));
    const sub = packChart('sub', new Map([['Chart.yaml', Buffer.from('apiVersion: v2\nname: sub\nversion: 0.1.0\n')], ['crds/b.yaml', CRD('bs')], ['templates/x.yaml', Buffer.alloc(1 << 20, 0x20)]]));
    files.set('charts/sub-0.1.0.tgz', sub);
    const tgz = packChart('big', files);
    assert.equal(await helmSays(tgz), '');
    assert.equal(await ourError(tgz), '');
    const { crds } = await chartCrds(tgz);
    assert.deepEqual(crds.map((c) => c.file).sort(), ['charts/sub-0.1.0.tgz/crds/b.yaml', 'crds/a.yaml']);
    const kept = await readChartArchive(tgz, (rel) => rel.startsWith('crds/'));
    assert.deepEqual([...kept.files.keys()], ['crds/a.yaml']);
  });
});
