/**
 * The pull requests worth previewing, read from a verified webhook payload:
 * - GitHub `pull_request` with action `opened`, `synchronize` or `reopened` (a new head
 *   to render): the number, `pull_request.head.sha`, `base.sha`, `base.ref`, and the base
 *   repository (`repository.full_name`, its clone URLs);
 * - GitLab `Merge Request Hook` with action `open`, `reopen`, or `update` when it brings
 *   new commits (`oldrev` set): `object_attributes.iid`, `last_commit.id`,
 *   `target_branch`, the project's path, id and clone URLs.
 * Anything else (closed, labeled, edited, a title change) previews nothing.
 */
import type { PreviewRequest } from '../queue/message.js';

/** A pull or merge request to preview against the live clusters. */
export type { PreviewRequest } from '../queue/message.js';

type Json = Record<string, unknown>;

function obj(v: unknown, key: string): Json | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const x = (v as Json)[key];
  return typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Json) : undefined;
}

function str(v: unknown, key: string): string | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const x = (v as Json)[key];
  return typeof x === 'string' && x !== '' ? x : undefined;
}

function num(v: unknown, key: string): number | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const x = (v as Json)[key];
  return typeof x === 'number' && Number.isSafeInteger(x) && x > 0 ? x : undefined;
}

const SHA = /^[0-9a-f]{40}$/;

/** The preview message's limits (queue/message.ts): a longer value previews nothing instead of failing the webhook. */
const MAX_REPOSITORY = 512;
const MAX_REF = 256;

/** A preview the message can carry; `headRef` (informational only) is dropped when too long. */
function fits(out: PreviewRequest): PreviewRequest | undefined {
  if (out.repository.length > MAX_REPOSITORY || out.baseRef.length > MAX_REF) return undefined;
  if (out.headRef !== undefined && out.headRef.length > MAX_REF) delete out.headRef;
  return out;
}

/** GitHub actions that bring a head to preview. */
export const GITHUB_PREVIEW_ACTIONS = ['opened', 'synchronize', 'reopened'];

/** The preview a GitHub `pull_request` payload asks for, or undefined. */
export function githubPreviewRequest(payload: Json): PreviewRequest | undefined {
  const action = str(payload, 'action');
  if (!action || !GITHUB_PREVIEW_ACTIONS.includes(action)) return undefined;
  const pr = obj(payload, 'pull_request');
  const head = obj(pr, 'head');
  const base = obj(pr, 'base');
  const number = num(payload, 'number') ?? num(pr, 'number');
  const headSha = str(head, 'sha');
  const repo = obj(payload, 'repository') ?? obj(base, 'repo');
  const repository = str(repo, 'full_name');
  const baseRef = str(base, 'ref');
  if (!number || !headSha || !SHA.test(headSha) || !repository || !baseRef) return undefined;
  const cloneUrls = ['clone_url', 'ssh_url', 'git_url', 'html_url'].map((k) => str(repo, k)).filter((u): u is string => u !== undefined && u.length <= 2048);
  const out: PreviewRequest = { host: 'github', repository, number, headSha, baseRef, cloneUrls, action };
  const baseSha = str(base, 'sha');
  if (baseSha && SHA.test(baseSha)) out.baseSha = baseSha;
  const headRef = str(head, 'ref');
  if (headRef) out.headRef = headRef;
  // A pull request from a fork (or whose head repository was deleted: `head.repo` null).
  const headRepo = str(obj(head, 'repo'), 'full_name');
  out.fork = headRepo === undefined || headRepo.toLowerCase() !== repository.toLowerCase();
  return fits(out);
}

/** The preview a GitLab merge request payload asks for, or undefined. */
export function gitlabPreviewRequest(payload: Json): PreviewRequest | undefined {
  if (str(payload, 'object_kind') !== 'merge_request') return undefined;
  const attrs = obj(payload, 'object_attributes');
  const action = str(attrs, 'action');
  if (!action) return undefined;
  if (action !== 'open' && action !== 'reopen' && !(action === 'update' && str(attrs, 'oldrev'))) return undefined;
  const project = obj(payload, 'project');
  const number = num(attrs, 'iid');
  const headSha = str(obj(attrs, 'last_commit'), 'id');
  const repository = str(project, 'path_with_namespace');
  const baseRef = str(attrs, 'target_branch');
  if (!number || !headSha || !SHA.test(headSha) || !repository || !baseRef) return undefined;
  const cloneUrls = ['git_http_url', 'git_ssh_url', 'http_url', 'ssh_url', 'web_url'].map((k) => str(project, k)).filter((u): u is string => u !== undefined && u.length <= 2048);
  const out: PreviewRequest = { host: 'gitlab', repository, number, headSha, baseRef, cloneUrls: [...new Set(cloneUrls)].slice(0, 8), action };
  const projectId = num(attrs, 'target_project_id') ?? num(project, 'id');
  if (projectId) out.projectId = projectId;
  const headRef = str(attrs, 'source_branch');
  if (headRef) out.headRef = headRef;
  // A merge request from a fork: its source project is not the target project.
  const source = num(attrs, 'source_project_id');
  out.fork = source === undefined || projectId === undefined || source !== projectId;
  return fits(out);
}

/**
 * Whether the Receiver previews `req`: pull requests from forks only when its Secret sets
 * `previewForks: "true"`. A fork's head is written by anyone; its preview renders with the
 * cluster's credentials and posts what the dry-run saw where the fork's author reads it.
 */
export function previewAllowed(req: PreviewRequest, receiverSecret: Readonly<Record<string, string>> | undefined): boolean {
  return !req.fork || receiverSecret?.previewForks?.trim() === 'true';
}
