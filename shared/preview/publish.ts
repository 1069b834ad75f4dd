/**
 * Where a preview is shown:
 * - GitHub: one check run named CHECK_NAME on the pull request's head commit, found by
 *   name and head SHA (`GET /repos/{o}/{r}/commits/{sha}/check-runs?check_name=`), else
 *   created (`POST /repos/{o}/{r}/check-runs`, in_progress), then completed with the
 *   conclusion and the report (`PATCH /repos/{o}/{r}/check-runs/{id}`). A redelivery or a
 *   retry updates the same run; a new push gets the run of its new head.
 * - GitLab: one note on the merge request, found by its hidden marker among the first 100
 *   notes (`GET .../merge_requests/:iid/notes?sort=asc&order_by=created_at&per_page=100`),
 *   edited (`PUT .../notes/:id`), else created (`POST .../notes`).
 * Calls go through small typed wrappers (the GitHub client sends what go-github sends).
 */
import { githubClient, type GitHubRepoClient } from '../notify/providers/github-api.js';
import { gitlabClient, gitlabPathEscape } from '../notify/providers/gitlab.js';
import type { PreviewRequest } from '../queue/message.js';
import type { ApiAccess } from './access.js';
import { CHECK_NAME, noteBody, noteMarker, type PreviewReport } from './report.js';

interface CheckRun {
  id: number;
  name?: string;
  head_sha?: string;
  status?: string;
}

function github(access: ApiAccess, req: PreviewRequest, signal?: AbortSignal): GitHubRepoClient {
  const [owner, repo] = req.repository.split('/');
  return githubClient({ baseUrl: access.baseUrl, token: access.token, owner, repo, transport: access.transport, signal });
}

function repoPath(req: PreviewRequest): string {
  return req.repository
    .split('/')
    .map((p) => encodeURIComponent(p))
    .join('/');
}

/** The id of the check run for the head, created (in_progress) when there is none. */
export async function startCheckRun(access: ApiAccess, req: PreviewRequest, externalId: string, now: Date, signal?: AbortSignal): Promise<number> {
  const gh = github(access, req, signal);
  const repo = repoPath(req);
  const found = await gh.call<{ check_runs?: CheckRun[] }>('GET', `repos/${repo}/commits/${req.headSha}/check-runs?check_name=${encodeURIComponent(CHECK_NAME)}&filter=latest`, undefined, 'could not list check runs');
  const run = (found?.check_runs ?? []).find((r) => r.name === CHECK_NAME && (r.head_sha === undefined || r.head_sha === req.headSha));
  if (run) {
    await gh.call('PATCH', `repos/${repo}/check-runs/${run.id}`, { status: 'in_progress', external_id: externalId }, 'could not update the check run');
    return run.id;
  }
  const created = await gh.call<CheckRun>('POST', `repos/${repo}/check-runs`, { name: CHECK_NAME, head_sha: req.headSha, external_id: externalId, status: 'in_progress', started_at: now.toISOString().replace(/\.\d+Z$/, 'Z') }, 'could not create the check run');
  return created.id;
}

/** Completes the check run with the report. */
export async function completeCheckRun(access: ApiAccess, req: PreviewRequest, id: number, r: PreviewReport, now: Date, signal?: AbortSignal): Promise<void> {
  await github(access, req, signal).call(
    'PATCH',
    `repos/${repoPath(req)}/check-runs/${id}`,
    { name: CHECK_NAME, status: 'completed', conclusion: r.conclusion, completed_at: now.toISOString().replace(/\.\d+Z$/, 'Z'), output: { title: r.title, summary: r.summary } },
    'could not complete the check run',
  );
}

interface Note {
  id: number;
  body?: string;
  author?: { id?: number; username?: string };
}

const NOTES_PER_PAGE = 100;
/** Pages of notes searched for ours (2,000 notes); past that a new note is posted. */
const MAX_NOTE_PAGES = 20;

/** Creates or updates the merge request note of the Receiver. */
export async function upsertNote(access: ApiAccess, req: PreviewRequest, receiver: { namespace: string; name: string }, r: PreviewReport, signal?: AbortSignal): Promise<void> {
  const gl = gitlabClient({ base: access.baseUrl, token: access.token, transport: access.transport, signal });
  const project = req.projectId !== undefined ? String(req.projectId) : gitlabPathEscape(req.repository);
  const notesPath = `projects/${project}/merge_requests/${req.number}/notes`;
  const marker = noteMarker(receiver);
  // Anyone can quote the marker in a comment: only a note the token's own user wrote is ours.
  const me = await gl.call<{ id?: number; username?: string }>('GET', 'user', undefined, 'could not read the API token\'s user');
  const ours = (n: Note) => (me?.id !== undefined && n.author?.id !== undefined ? n.author.id === me.id : n.author?.username !== undefined && n.author.username === me?.username);
  // Oldest first, a page at a time: on a busy merge request our note is past the first page.
  let mine: Note | undefined;
  for (let page = 1; page <= MAX_NOTE_PAGES && !mine; page++) {
    const notes = (await gl.call<Note[]>('GET', `${notesPath}?order_by=created_at&sort=asc&per_page=${NOTES_PER_PAGE}&page=${page}`, undefined, 'could not list merge request notes')) ?? [];
    mine = notes.find((n) => ours(n) && (n.body ?? '').includes(marker));
    if (notes.length < NOTES_PER_PAGE) break;
  }
  const body = { body: noteBody(receiver, r) };
  if (mine) await gl.call('PUT', `${notesPath}/${mine.id}`, body, 'could not update the merge request note');
  else await gl.call('POST', notesPath, body, 'could not create the merge request note');
}
