/**
 * `github` (notifier/github.go): a commit status on the event's commit, state from the
 * severity (info success, error failure), context = the commit status id, description =
 * the reason in words. Progressing events are skipped; a status that already says the
 * same (the first one with this context) is not posted again.
 */
import { eventCommit, nameAndDescription, PROGRESSING_REASON } from '../commit-status.js';
import { PermanentDeliveryError } from '../errors.js';
import { omitEmpty, S } from '../../util/gojson.js';
import type { Notifier, ProviderOptions } from './common.js';
import { githubRepoClient } from './github-api.js';

interface RepoStatus {
  state?: string;
  description?: string;
  context?: string;
}

/** The GitHub commit status notifier. */
export function githubNotifier(o: ProviderOptions): Notifier {
  if (o.commitStatus === '') throw new PermanentDeliveryError('commit status cannot be empty');
  return async (e) => {
    if (e.reason === PROGRESSING_REASON) return false;
    const sha = eventCommit(e);
    const gh = await githubRepoClient({ address: o.url, token: o.token, password: o.password, secretData: o.secretData, transport: o.transport, signal: o.signal });
    const state = e.severity === 'error' ? 'failure' : 'success';
    const { description } = nameAndDescription(e);
    const statuses = await gh.call<RepoStatus[]>('GET', `repos/${gh.owner}/${gh.repo}/commits/${sha}/statuses?per_page=50`, undefined, 'could not list commit statuses');
    const same = (statuses ?? []).find((s) => s.context !== undefined && s.state !== undefined && s.description !== undefined && s.context === o.commitStatus);
    if (same && same.state === state && same.description === description) return false;
    await gh.call('POST', `repos/${gh.owner}/${gh.repo}/statuses/${sha}`, S([['state', state], ['target_url', omitEmpty('')], ['description', description], ['context', o.commitStatus]]), 'could not create commit status');
  };
}
