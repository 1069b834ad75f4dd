/**
 * The preview as Markdown, for a GitHub check run (title, summary, conclusion) or a GitLab
 * merge request note: per Kustomization, each object the pull request would create,
 * configure or delete, with its field-level diff (Secret values masked by the engine); a
 * failing build or validation makes the conclusion `failure`. The summary stays below
 * GitHub's 65 535-character limit (cut with a marker).
 */
import { fmtRef } from '../kube/object.js';
import type { PreviewRequest } from '../queue/message.js';
import type { KustomizationPreview } from './render.js';

/** The check run's name (one per pull request head). */
export const CHECK_NAME = 'fluxless preview';
/** GitHub refuses summaries over 65 535 characters: stay below. */
export const MAX_SUMMARY = 65_000;
const TRUNCATED = '\n\n… (truncated: the preview is longer than a check run can show)';

/** The preview of one GitRepository. */
export interface SourcePreview {
  source: { kind: string; namespace: string; name: string };
  kustomizations: KustomizationPreview[];
  /** The source could not be fetched at the head. */
  error?: string;
}

/** What is posted. */
export interface PreviewReport {
  conclusion: 'success' | 'failure';
  title: string;
  summary: string;
}

function fence(text: string, lang = ''): string {
  const f = text.includes('```') ? '````' : '```';
  return `${f}${lang}\n${text}\n${f}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Cuts `s` below `max` characters (whole code points), with a marker. */
export function truncate(s: string, max = MAX_SUMMARY): string {
  if (s.length <= max) return s;
  const chars = Array.from(s.slice(0, max - TRUNCATED.length));
  if (chars.length && /[\uD800-\uDBFF]/.test(chars[chars.length - 1])) chars.pop();
  return chars.join('') + TRUNCATED;
}

/** The report of a preview. */
export function buildReport(req: PreviewRequest, sources: SourcePreview[]): PreviewReport {
  const ks = sources.flatMap((s) => s.kustomizations);
  const failed = ks.filter((k) => !k.ok);
  const sourceErrors = sources.filter((s) => s.error);
  const counts = { created: 0, configured: 0, deleted: 0 };
  for (const k of ks) for (const c of k.changes) counts[c.action]++;
  const total = counts.created + counts.configured + counts.deleted;
  const lines: string[] = [];
  lines.push(`Fluxless rendered \`${req.headSha.slice(0, 12)}\` and ran a server-side dry-run against the live cluster. Nothing was applied.`);
  lines.push('');
  if (!ks.length && !sourceErrors.length) lines.push('No Kustomization reads a file this pull request changes.');
  else if (ks.length) lines.push(`${plural(ks.length, 'Kustomization')} affected: ${counts.created} created, ${counts.configured} configured, ${counts.deleted} deleted${failed.length ? `, ${failed.length} failing` : ''}.`);
  for (const s of sourceErrors) {
    lines.push('', `### ❌ ${fmtRef(s.source)}: the pull request head could not be fetched`, '', fence(s.error!));
  }
  for (const k of ks) {
    const name = `Kustomization/${k.key.namespace}/${k.key.name}`;
    const where = k.path ? ` (\`${k.path}\`)` : '';
    const def = k.newDefinition ? ' (definition changed by this pull request)' : '';
    lines.push('');
    if (k.skipped) {
      lines.push(`### ⏭️ \`${name}\`${where}${def}: not previewed: ${k.skipped}`);
      continue;
    }
    if (!k.ok) {
      lines.push(`### ❌ \`${name}\`${where}: ${k.reason === 'ValidationFailed' ? 'a manifest would fail validation' : k.reason === 'BuildFailed' ? 'the build fails' : 'the definition is invalid'}${def}`, '', fence(k.error ?? ''));
      continue;
    }
    lines.push(`### ✅ \`${name}\`${where}${def}: ${k.changes.length ? plural(k.changes.length, 'change') : 'no changes'}${k.unchanged ? `, ${k.unchanged} unchanged` : ''}`);
    if (k.changes.length) lines.push('');
    for (const c of k.changes) {
      lines.push(`- **${c.action}** \`${c.subject}\`${c.definition ? ' (Flux definition)' : ''}`);
      if (c.diff) lines.push(fence(c.diff, 'diff').replace(/^/gm, '  '));
    }
  }
  const conclusion = failed.length || sourceErrors.length ? 'failure' : 'success';
  const title =
    conclusion === 'failure'
      ? failed.length
        ? `${plural(failed.length, 'Kustomization')} would fail: ${failed.map((k) => `${k.key.namespace}/${k.key.name}`).join(', ')}`.slice(0, 250)
        : 'The pull request could not be fetched'
      : ks.length
        ? total
          ? `${plural(total, 'object')} would change`
          : 'No object would change'
        : 'No Kustomization is affected';
  return { conclusion, title, summary: truncate(lines.join('\n')) };
}

/** The hidden marker of the merge request note for a Receiver. */
export function noteMarker(receiver: { namespace: string; name: string }): string {
  return `<!-- fluxless-preview:${receiver.namespace}/${receiver.name} -->`;
}

/** The GitLab merge request note. */
export function noteBody(receiver: { namespace: string; name: string }, r: PreviewReport): string {
  return truncate(`${noteMarker(receiver)}\n## ${r.conclusion === 'success' ? '✅' : '❌'} Fluxless preview: ${r.title}\n\n${r.summary}`, 1_000_000);
}
