/**
 * An OCIRepository's `spec.url`, validated on its own (without the rest of the spec), for
 * callers such as the configuration loader that must not carry the whole spec parser.
 */
import { OciSpecError } from './errors.js';
import { InvalidReferenceError, OCI_SCHEME, parseRepository, type RepositoryName } from './reference.js';

/**
 * Validates the URL the way source-controller's parseRepository does: `oci://`, then a
 * repository without a tag. Throws OciSpecError (URLInvalid) with Flux's message.
 */
export function parseOciUrl(url: string): RepositoryName {
  const fail = (msg: string): never => {
    throw new OciSpecError('URLInvalid', `URL validation failed for '${url}': ${msg}`);
  };
  if (typeof url !== 'string' || !url.startsWith(OCI_SCHEME)) fail("URL must be in format 'oci://<domain>/<org>/<repo>'");
  const rest = url.slice(OCI_SCHEME.length);
  const slash = rest.indexOf('/');
  const path = slash >= 0 ? rest.slice(slash + 1) : rest;
  if (path.includes('@')) fail(`URL must not contain a digest; remove '@${path.split('@')[1]}' and set spec.ref.digest`);
  const colon = path.indexOf(':');
  if (slash >= 0 && colon >= 0) fail(`URL must not contain a tag; remove ':${path.slice(colon + 1)}'`);
  try {
    return parseRepository(rest);
  } catch (err) {
    if (err instanceof InvalidReferenceError) fail(err.message);
    throw err;
  }
}
