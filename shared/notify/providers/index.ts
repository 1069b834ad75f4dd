/** The notifier of each supported Provider type (notifier/factory.go). */
import type { ProviderType } from '../spec.js';
import { alertmanagerNotifier } from './alertmanager.js';
import { dataDogNotifier } from './datadog.js';
import { bitbucketNotifier } from './bitbucket.js';
import { bitbucketServerNotifier } from './bitbucket-server.js';
import type { Notifier, ProviderOptions } from './common.js';
import { discordNotifier, rocketNotifier, slackNotifier } from './slack.js';
import { genericNotifier } from './generic.js';
import { giteaNotifier } from './gitea.js';
import { giteaPrCommentNotifier } from './gitea-pr-comment.js';
import { githubNotifier } from './github.js';
import { githubDispatchNotifier } from './github-dispatch.js';
import { githubPrCommentNotifier } from './github-pr-comment.js';
import { gitlabNotifier } from './gitlab.js';
import { gitlabMrCommentNotifier } from './gitlab-mr-comment.js';
import { googleChatNotifier } from './googlechat.js';
import { grafanaNotifier } from './grafana.js';
import { larkNotifier } from './lark.js';
import { matrixNotifier } from './matrix.js';
import { opsgenieNotifier } from './opsgenie.js';
import { pagerDutyNotifier } from './pagerduty.js';
import { teamsNotifier } from './teams.js';
import { telegramNotifier } from './telegram.js';
import { webexNotifier } from './webex.js';
import { zulipNotifier } from './zulip.js';

/** Types of Provider notifiers: the sender, a resolved Provider's options, and overridable endpoints. */
export type { Notifier, ProviderEndpoints, ProviderOptions } from './common.js';

const FACTORIES: Readonly<Record<ProviderType, (o: ProviderOptions) => Notifier>> = {
  generic: (o) => genericNotifier(o, false),
  'generic-hmac': (o) => genericNotifier(o, true),
  slack: slackNotifier,
  discord: discordNotifier,
  msteams: teamsNotifier,
  googlechat: googleChatNotifier,
  telegram: telegramNotifier,
  github: githubNotifier,
  githubpullrequestcomment: githubPrCommentNotifier,
  gitlab: (o) => gitlabNotifier(o),
  gitea: giteaNotifier,
  bitbucket: bitbucketNotifier,
  alertmanager: alertmanagerNotifier,
  rocket: rocketNotifier,
  grafana: grafanaNotifier,
  opsgenie: opsgenieNotifier,
  webex: webexNotifier,
  matrix: matrixNotifier,
  githubdispatch: githubDispatchNotifier,
  gitlabmergerequestcomment: gitlabMrCommentNotifier,
  giteapullrequestcomment: giteaPrCommentNotifier,
  pagerduty: pagerDutyNotifier,
  lark: larkNotifier,
  zulip: zulipNotifier,
  bitbucketserver: bitbucketServerNotifier,
  datadog: dataDogNotifier,
};

/** The notifier for `o.type`; throws a PermanentDeliveryError when the options cannot work (bad address, no token). */
export function createNotifier(o: ProviderOptions): Notifier {
  return FACTORIES[o.type](o);
}
