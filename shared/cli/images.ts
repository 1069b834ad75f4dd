/**
 * `fluxless get images all|repository|policy|update`, with the columns `flux get images`
 * shows: the last scan and tag count of ImageRepositories, the latest image of ImagePolicies,
 * the last run and last pushed commit of ImageUpdateAutomations. (`reconcile`, `suspend` and
 * `resume` find the image kinds through the registry's names: `image repository`, ...)
 */
import type { Runtime } from '../runtime/runtime.js';
import { corruptMessage, getCondition, listRecords, type ObjectRecord } from '../state/records.js';
import { FluxlessError } from '../util/errors.js';
import { output, renderTable } from './context.js';

/** One row of `get images`. */
export interface ImageRow {
  kind: string;
  namespace: string;
  name: string;
  /** LAST SCAN (repository), LATEST IMAGE (policy), LAST RUN (update). */
  detail: string;
  /** Tags found (repository) or last pushed commit (update). */
  extra: string;
  suspended: boolean;
  ready: string;
  message: string;
}

interface ImageKindView {
  kind: string;
  word: string;
  title: string;
  headers: [string, string];
  columns(rec: ObjectRecord): [string, string];
}

const VIEWS: ImageKindView[] = [
  {
    kind: 'ImageRepository',
    word: 'repository',
    title: 'imagerepository',
    headers: ['LAST SCAN', 'TAGS'],
    columns: (rec) => {
      const r = rec.status.lastScanResult as { scanTime?: string; tagCount?: number } | undefined;
      return [r?.scanTime ?? '', r?.tagCount !== undefined ? String(r.tagCount) : ''];
    },
  },
  {
    kind: 'ImagePolicy',
    word: 'policy',
    title: 'imagepolicy',
    headers: ['LATEST IMAGE', 'DIGEST'],
    columns: (rec) => {
      const l = rec.status.latestRef as { name?: string; tag?: string; digest?: string } | undefined;
      return [l ? `${l.name}:${l.tag}` : '', l?.digest ?? ''];
    },
  },
  {
    kind: 'ImageUpdateAutomation',
    word: 'update',
    title: 'imageupdateautomation',
    headers: ['LAST RUN', 'LAST PUSH'],
    columns: (rec) => [(rec.status.lastAutomationRunTime as string | undefined) ?? '', ((rec.status.lastPushCommit as string | undefined) ?? '').slice(0, 12)],
  },
];

/** The views `get images WHAT` shows. */
function viewsFor(what: string): ImageKindView[] {
  const w = what.toLowerCase();
  if (w === 'all' || w === '') return VIEWS;
  const v = VIEWS.find((x) => x.word === w || x.kind.toLowerCase() === w || `${x.word}s` === w || (w === 'policies' && x.word === 'policy') || (w === 'automation' && x.word === 'update'));
  if (!v) throw new FluxlessError('Usage', `unknown image kind '${what}'`, { hint: "use 'fluxless get images all|repository|policy|update'" });
  return [v];
}

/** `get images WHAT`: one table per kind (or one JSON/YAML list of rows). */
export async function getImagesCmd(rt: Runtime, what: string, opts: { namespace?: string; output: string }): Promise<string> {
  const sections: Array<{ view: ImageKindView; rows: ImageRow[] }> = [];
  for (const view of viewsFor(what)) {
    const rows: ImageRow[] = [];
    for (const read of await listRecords(rt.state, opts.namespace ? { kind: view.kind, namespace: opts.namespace } : { kind: view.kind })) {
      const base = { kind: view.kind, namespace: read.key.namespace, name: read.key.name };
      if (read.corrupt) {
        rows.push({ ...base, detail: '', extra: '', suspended: false, ready: 'Corrupt', message: corruptMessage(read) });
        continue;
      }
      const rec = read.record;
      if (!rec?.object) continue;
      const ready = getCondition(rec, 'Ready');
      const [detail, extra] = view.columns(rec);
      rows.push({
        ...base,
        detail,
        extra,
        suspended: Boolean((rec.object.spec as { suspend?: boolean } | undefined)?.suspend || rec.suspended),
        ready: rec.deleted ? 'Deleting' : (ready?.status ?? 'Unknown'),
        message: rec.deleted ? 'removed from Git, being finalized' : (ready?.message ?? 'not reconciled yet'),
      });
    }
    sections.push({ view, rows });
  }
  const all = sections.flatMap((s) => s.rows);
  return output(opts.output, all as unknown as Record<string, unknown>[], () => {
    const shown = sections.filter((s) => s.rows.length > 0 || sections.length === 1);
    if (all.length === 0) return 'no objects found';
    return shown
      .map(({ view, rows }) =>
        renderTable(
          ['NAMESPACE', 'NAME', ...view.headers, 'SUSPENDED', 'READY', 'MESSAGE'],
          rows.map((r) => [r.namespace, `${view.title}/${r.name}`, r.detail, r.extra, String(r.suspended), r.ready, r.message.split('\n')[0]]),
        ),
      )
      .join('\n\n');
  });
}
