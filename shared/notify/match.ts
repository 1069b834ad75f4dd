/**
 * Which Alerts an event goes to (event_handlers.go filterAlertsForEvent): not suspended,
 * some `eventSources[]` entry matches (kind and namespace equal, `name` exact or `*`,
 * `matchLabels` against the object's labels, the Alert's severity), the message matches
 * one `inclusionList` entry (when there are any) and no `exclusionList` entry. An entry
 * that does not compile is skipped and reported (`InvalidConfig` on the Alert).
 */
import type { NotificationEvent } from './event.js';
import { GoRegexp } from '../util/go-regexp.js';
import type { AlertSpec, EventSource } from './spec.js';

/** A problem with an Alert found while matching, to record as a Warning event on it. */
export interface AlertWarning {
  alert: Pick<AlertSpec, 'namespace' | 'name'>;
  reason: 'InvalidConfig';
  message: string;
}

/** The Alerts an event matched, and the warnings raised on the way. */
export interface MatchOutcome {
  matched: AlertSpec[];
  warnings: AlertWarning[];
}

/** eventMatchesAlertSource: namespace, kind, severity, name, then labels. */
export function sourceMatches(src: EventSource, alert: Pick<AlertSpec, 'eventSeverity'>, e: NotificationEvent, labels: Readonly<Record<string, string>> | undefined): boolean {
  if (e.involvedObject.namespace !== src.namespace || e.involvedObject.kind !== src.kind) return false;
  if (e.severity !== alert.eventSeverity && alert.eventSeverity !== 'info') return false;
  if (src.name !== '*' && src.name !== e.involvedObject.name) return false;
  if (src.matchLabels === undefined) return true;
  return Object.entries(src.matchLabels).every(([k, v]) => labels?.[k] === v);
}

function listMatches(alert: AlertSpec, list: string[], which: 'inclusion' | 'exclusion', msg: string, warnings: AlertWarning[]): boolean {
  for (const exp of list) {
    let re: GoRegexp;
    try {
      re = GoRegexp.compile(exp);
    } catch {
      warnings.push({ alert, reason: 'InvalidConfig', message: `failed to compile ${which} regex: ${exp}` });
      continue;
    }
    if (re.test(msg)) return true;
  }
  return false;
}

/** The Alerts `e` goes to; `labels` are the involved object's labels. */
export function matchAlerts(alerts: readonly AlertSpec[], e: NotificationEvent, labels: Readonly<Record<string, string>> | undefined): MatchOutcome {
  const matched: AlertSpec[] = [];
  const warnings: AlertWarning[] = [];
  for (const alert of alerts) {
    if (alert.suspend) continue;
    if (!alert.eventSources.some((s) => sourceMatches(s, alert, e, labels))) continue;
    if (alert.inclusionList.length && !listMatches(alert, alert.inclusionList, 'inclusion', e.message, warnings)) continue;
    if (alert.exclusionList.length && listMatches(alert, alert.exclusionList, 'exclusion', e.message, warnings)) continue;
    matched.push(alert);
  }
  return { matched, warnings };
}
