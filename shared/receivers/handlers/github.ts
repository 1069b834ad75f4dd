/**
 * `github`: X-Hub-Signature-256 (else X-Hub-Signature) over the raw body with the token;
 * `spec.events` against `X-GitHub-Event`; `ping` answers 200. For the `package` and
 * `registry_package` events (GitHub Packages / ghcr.io, e.g. `events: ["ping",
 * "package"]`), the container image and tag the event is about are exposed. A
 * `pull_request` event that brings a new head (opened, synchronize, reopened) also asks
 * for a preview of the pull request (shared/preview).
 */
import { filterEvent } from '../handler.js';
import type { ReceiverHandler } from '../handler.js';
import { artifactFromReference } from '../images.js';
import type { RegistryArtifact } from '../images.js';
import { objectAt, stringAt } from '../payload.js';
import { githubPreviewRequest, previewAllowed } from '../../preview/request.js';
import type { JsonObject } from '../payload.js';
import { artifactDetails, hubSignedPayload, payloadDetails } from './common.js';

/** Verifies a GitHub webhook. */
export const github: ReceiverHandler = async (req, ctx) => {
  const signed = await hubSignedPayload(req, ctx.receiver.entry.token, 'GitHub');
  if (!signed.ok) return signed.verdict;
  const event = req.header('x-github-event') ?? '';
  if (event.toLowerCase() === 'ping') return { kind: 'ping', event: `GitHub ${event}` };
  const filtered = filterEvent(ctx.receiver, event, 'GitHub');
  if (filtered) return filtered;
  const deliveryId = req.header('x-github-delivery');
  const lower = event.toLowerCase();
  if (lower === 'package' || lower === 'registry_package') {
    const artifacts = packageArtifacts(signed.payload, lower);
    return { kind: 'accept', event, deliveryId, artifacts, details: artifactDetails(artifacts) ?? payloadDetails(signed.payload) };
  }
  if (lower === 'pull_request') {
    const preview = githubPreviewRequest(signed.payload);
    if (preview && !previewAllowed(preview, ctx.receiver.entry.secret)) {
      return { kind: 'accept', event, deliveryId, details: { repository: preview.repository, pullRequest: String(preview.number), preview: 'skipped: the pull request comes from a fork (set previewForks in the Receiver Secret)' } };
    }
    if (preview) return { kind: 'accept', event, deliveryId, details: { repository: preview.repository, pullRequest: String(preview.number), commit: preview.headSha }, preview };
  }
  return { kind: 'accept', event, deliveryId, details: payloadDetails(signed.payload) };
};

/**
 * The container image of a `package` / `registry_package` event: `package_version.package_url`
 * (`ghcr.io/<owner>/<name>:<tag>`) when present, else ghcr.io + namespace + name; the tag
 * and digest from `package_version.container_metadata.tag`. Non-container packages
 * (npm, maven, ...) expose nothing.
 */
export function packageArtifacts(payload: JsonObject, event: 'package' | 'registry_package'): RegistryArtifact[] {
  const pkg = objectAt(payload, event);
  if (!pkg) return [];
  const type = (stringAt(pkg, 'package_type') ?? '').toLowerCase();
  if (type !== 'container' && type !== 'docker') return [];
  const version = objectAt(pkg, 'package_version');
  const tagInfo = objectAt(objectAt(version, 'container_metadata'), 'tag');
  const tag = stringAt(tagInfo, 'name');
  const digest = stringAt(tagInfo, 'digest');
  const action = stringAt(payload, 'action');
  const url = stringAt(version, 'package_url');
  let ref = url;
  if (ref === undefined) {
    const name = stringAt(pkg, 'name');
    const owner = stringAt(pkg, 'namespace') ?? stringAt(objectAt(pkg, 'owner'), 'login');
    if (name === undefined || owner === undefined) return [];
    ref = `ghcr.io/${owner.toLowerCase()}/${name}`;
  }
  const a = artifactFromReference(ref, { tag, digest, action });
  return a ? [a] : [];
}
