/**
 * `cdevents`: the body must be a CDEvent of spec v0.4 (Flux validates it with the CDEvents
 * Go SDK v0.4); `spec.events` against the `Ce-Type` header (case-insensitive). The check
 * here is structural (context and subject fields, a known event type), not the SDK's full
 * per-type JSON schema. For artifact events, the OCI artifact named by the subject's
 * package URL (`pkg:oci/<name>@<digest>?repository_url=<host/path>&tag=<tag>`) is exposed.
 */
import { filterEvent, reject } from '../handler.js';
import type { ReceiverHandler } from '../handler.js';
import { artifactFromReference } from '../images.js';
import type { RegistryArtifact } from '../images.js';
import { isObject, objectAt, parseJsonObject, stringAt } from '../payload.js';
import type { JsonObject } from '../payload.js';
import { artifactDetails } from './common.js';

/** Subjects and their predicates in CDEvents spec v0.4. */
const EVENT_TYPES: Readonly<Record<string, readonly string[]>> = {
  artifact: ['packaged', 'published', 'signed', 'downloaded', 'deleted'],
  branch: ['created', 'deleted'],
  build: ['queued', 'started', 'finished'],
  change: ['created', 'updated', 'reviewed', 'merged', 'abandoned'],
  environment: ['created', 'modified', 'deleted'],
  incident: ['detected', 'reported', 'resolved'],
  pipelinerun: ['queued', 'started', 'finished'],
  repository: ['created', 'modified', 'deleted'],
  service: ['deployed', 'upgraded', 'rolledback', 'removed', 'published'],
  taskrun: ['started', 'finished'],
  testcaserun: ['queued', 'started', 'finished', 'skipped'],
  testoutput: ['published'],
  testsuiterun: ['queued', 'started', 'finished'],
  ticket: ['created', 'updated', 'closed'],
};

const TYPE_RE = /^dev\.cdevents\.([a-z]+)\.([a-z]+)\.(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$/;
const CUSTOM_TYPE_RE = /^dev\.cdeventsx\.[a-z0-9]+-[a-z0-9]+\.[a-z]+\.\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Why `p` is not a valid CDEvent, or undefined. */
export function cdeventProblem(p: JsonObject): string | undefined {
  const context = objectAt(p, 'context');
  if (!context) return 'missing "context"';
  const version = stringAt(context, 'specversion') ?? stringAt(context, 'version');
  if (version === undefined) return 'context.version is required';
  if (!/^0\.4\.\d+/.test(version)) return `context.version ${JSON.stringify(version)} is not CDEvents spec 0.4`;
  for (const f of ['id', 'source', 'type', 'timestamp']) if (stringAt(context, f) === undefined) return `context.${f} is required`;
  const type = stringAt(context, 'type') as string;
  const m = TYPE_RE.exec(type);
  if (m) {
    if (!EVENT_TYPES[m[1]]?.includes(m[2])) return `unknown CDEvent type ${JSON.stringify(type)}`;
  } else if (!CUSTOM_TYPE_RE.test(type)) {
    return `context.type ${JSON.stringify(type)} is not a CDEvent type (dev.cdevents.<subject>.<predicate>.<version>)`;
  }
  if (!RFC3339.test(stringAt(context, 'timestamp') as string)) return 'context.timestamp must be an RFC 3339 date-time';
  const subject = objectAt(p, 'subject');
  if (!subject) return 'missing "subject"';
  if (stringAt(subject, 'id') === undefined) return 'subject.id is required';
  if (subject.content !== undefined && !isObject(subject.content)) return 'subject.content must be an object';
  return undefined;
}

/** Validates a CDEvent. */
export const cdevents: ReceiverHandler = (req, ctx) => {
  const p = parseJsonObject(req.text(), 'CDEvent');
  if (typeof p === 'string') return reject(400, `unable to validate CDEvent event: ${p}`);
  const problem = cdeventProblem(p);
  if (problem) return reject(400, `unable to validate CDEvent event: ${problem}`);
  const event = req.header('ce-type') ?? '';
  const filtered = filterEvent(ctx.receiver, event, 'CDEvent');
  if (filtered) return filtered;

  const context = objectAt(p, 'context') as JsonObject;
  const type = stringAt(context, 'type') as string;
  const artifacts: RegistryArtifact[] = [];
  if (type.startsWith('dev.cdevents.artifact.')) {
    const a = purlArtifact(stringAt(objectAt(p, 'subject'), 'id') as string, type.split('.')[3]);
    if (a) artifacts.push(a);
  }
  return { kind: 'accept', event, deliveryId: stringAt(context, 'id'), artifacts, details: artifactDetails(artifacts) };
};

/** `pkg:oci/<name>@<digest>?repository_url=<host/path>&tag=<tag>` as an artifact. */
export function purlArtifact(id: string, action: string | undefined): RegistryArtifact | undefined {
  const m = /^pkg:oci\/([^@?#]+)(?:@([^?#]+))?(?:\?([^#]*))?/.exec(id);
  if (!m) return undefined;
  // A malformed % escape names no image; the event is still accepted (Flux answers 200).
  const name = decodeComponent(m[1]);
  const digest = m[2] ? decodeComponent(m[2]) : undefined;
  if (name === undefined || (m[2] && digest === undefined)) return undefined;
  const q = new URLSearchParams(m[3] ?? '');
  const repositoryUrl = q.get('repository_url');
  return artifactFromReference(repositoryUrl ?? name, { digest, tag: q.get('tag') ?? undefined, action, defaultHost: '' });
}

function decodeComponent(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}
