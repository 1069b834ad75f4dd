/** The GitRepository `secretRef` Secret (Flux's format) decoded into git credentials. */
import type { GitCredentials } from '../../sources/types.js';

/** Credentials from the Secret's data: `username`/`password` or `bearerToken` (HTTPS). */
export function gitCredentials(data: Record<string, string>): GitCredentials {
  return { username: data.username, password: data.password, bearerToken: data.bearerToken };
}
