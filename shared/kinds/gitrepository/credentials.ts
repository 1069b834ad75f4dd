/** The GitRepository `secretRef` Secret (Flux's format) decoded into git credentials. */
import { gitCredentialsFromSecret } from '../../sources/git.js';
import type { GitCredentials } from '../../sources/types.js';

/**
 * Credentials from the Secret's data: `username`/`password` or `bearerToken` (HTTPS);
 * `identity`, `known_hosts` and the key's `password` (SSH).
 */
export function gitCredentials(data: Record<string, string>): GitCredentials {
  return gitCredentialsFromSecret(data);
}
