/**
 * `dockerhub`: no authentication beyond the secret path (Flux). The payload must decode
 * (`push_data.tag`, `repository.repo_url`; else 400); the image is `repository.repo_name`
 * on docker.io (or derived from `repo_url`).
 */
import { reject } from '../handler.js';
import type { ReceiverHandler } from '../handler.js';
import { artifactFromReference } from '../images.js';
import type { RegistryArtifact } from '../images.js';
import { objectAt, parseJsonObject, stringAt, wrongType } from '../payload.js';
import { artifactDetails } from './common.js';

/** Decodes a Docker Hub push webhook. */
export const dockerhub: ReceiverHandler = (req) => {
  const p = parseJsonObject(req.text(), 'DockerHub');
  if (typeof p === 'string') return reject(400, `cannot decode DockerHub webhook payload: ${p}`);
  const bad = wrongType(p, 'push_data', 'object') ?? wrongType(p, 'repository', 'object');
  const push = objectAt(p, 'push_data');
  const repo = objectAt(p, 'repository');
  const bad2 = bad ?? (push && wrongType(push, 'tag', 'string')) ?? (repo && wrongType(repo, 'repo_url', 'string'));
  if (bad2) return reject(400, `cannot decode DockerHub webhook payload: ${bad2}`);

  const tag = stringAt(push, 'tag');
  let name = stringAt(repo, 'repo_name');
  if (name === undefined) {
    // https://hub.docker.com/r/<ns>/<name> or https://registry.hub.docker.com/u/<ns>/<name>/
    const m = /^https?:\/\/[^/]+\/(?:r|u|repository\/docker)\/([^/]+\/[^/]+|_\/[^/]+)\/?$/.exec(stringAt(repo, 'repo_url') ?? '');
    name = m ? m[1].replace(/^_\//, 'library/') : undefined;
  }
  const artifacts: RegistryArtifact[] = [];
  if (name !== undefined) {
    const a = artifactFromReference(`docker.io/${name}`, { tag, action: 'push' });
    if (a) artifacts.push(a);
  }
  return { kind: 'accept', artifacts, details: artifactDetails(artifacts) };
};
