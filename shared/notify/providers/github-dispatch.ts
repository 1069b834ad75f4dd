/**
 * `githubdispatch` (notifier/github_dispatch.go): a repository_dispatch event on the
 * Provider's repository, `event_type` `<Kind>/<name>.<namespace>` and the whole event (as
 * json.Marshal writes it) as `client_payload`, so a GitHub Actions workflow can run on a
 * Flux event (`on: repository_dispatch`). Token or GitHub App auth as the `github` type.
 */
import { GoRawJson, goMarshal, S, type GoStruct } from '../../util/gojson.js';
import type { NotificationEvent } from '../event.js';
import type { Notifier, ProviderOptions } from './common.js';
import { eventStruct } from './generic.js';
import { githubRepoClient } from './github-api.js';

/** The DispatchRequestOptions of an event. */
export function dispatchRequest(e: NotificationEvent): GoStruct {
  const o = e.involvedObject;
  return S([['event_type', `${o.kind}/${o.name}.${o.namespace}`], ['client_payload', new GoRawJson(goMarshal(eventStruct(e)))]]);
}

/** The GitHub repository dispatch notifier. */
export function githubDispatchNotifier(o: ProviderOptions): Notifier {
  return async (e) => {
    const gh = await githubRepoClient({ address: o.url, token: o.token, password: o.password, secretData: o.secretData, transport: o.transport, signal: o.signal });
    await gh.call('POST', `repos/${gh.owner}/${gh.repo}/dispatches`, dispatchRequest(e), 'could not send github repository dispatch webhook');
  };
}
