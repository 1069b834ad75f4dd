/**
 * GitRepository over SSH, Flux's way (fluxcd/pkg git.NewAuthOptions, gogit transport): the
 * Secret's `identity` (private key), optional `password` (its passphrase) and required
 * `known_hosts`; the user from spec.url, else `git`. Everything that can be checked without
 * the network is checked here, so a bad Secret fails before any connection is made.
 */
import type { HttpClient } from 'isomorphic-git';
import { GitAuthError, GitHostKeyError } from './git-errors.js';
import { loadSshIdentity } from './git-ssh-key.js';
import { createSshTransport } from './git-ssh-transport.js';
import { displaySshUrl, parseSshUrl } from './git-ssh-url.js';
import { KnownHostsFormatError, keysForHost, knownHostName, onlyAuthoritiesForHost, parseKnownHosts } from './known-hosts.js';
import type { GitCredentials, GitRepositorySpec } from './types.js';

/** An SSH remote ready for isomorphic-git. */
export interface SshRemoteSession {
  /** ssh://user@host[:port]/path, for messages. */
  url: string;
  /** The placeholder http URL to give isomorphic-git with `http`. */
  gitUrl: string;
  http: HttpClient;
  /** Closes the SSH connection. */
  close(): void;
}

/**
 * Opens an SSH remote for a GitRepository: checks spec.secretRef, reads `identity` (and
 * `password`) and `known_hosts`, and refuses before any connection when the host has no
 * usable key. Returns what git.ts needs: the URL shown to users, the placeholder URL and the
 * http client for isomorphic-git, and close().
 */
export function openSshRemote(spec: GitRepositorySpec, auth: GitCredentials | undefined, signal: AbortSignal): SshRemoteSession {
  const remote = parseSshUrl(spec.url);
  const url = displaySshUrl(remote);
  if (!spec.secretRef) {
    throw new GitAuthError(`spec.url ${url} is an SSH URL but spec.secretRef is not set: SSH needs a Secret with 'identity' (the private key) and 'known_hosts'`, {
      hint: 'create one with `flux create secret git <name> --url=<ssh url>` and set spec.secretRef.name to it',
    });
  }
  const secret = `Secret '${spec.secretRef.namespace}/${spec.secretRef.name}'`;
  const identity = loadSshIdentity(auth?.identity, auth?.password, secret);
  const hostName = knownHostName(remote.host, remote.port);
  const scan = `ssh-keyscan${remote.port === 22 ? '' : ` -p ${remote.port}`} ${remote.host}`;
  if (!auth?.knownHosts?.trim()) {
    throw new GitAuthError(`the ${secret} has no 'known_hosts': the SSH server's host key must be known in advance (it is never trusted on first use)`, {
      hint: `add the host's public keys as 'known_hosts' (e.g. the output of \`${scan}\`, checked against the fingerprints your Git host publishes)`,
    });
  }
  let knownHosts;
  try {
    knownHosts = parseKnownHosts(auth.knownHosts);
  } catch (err) {
    if (!(err instanceof KnownHostsFormatError)) throw err;
    throw new GitAuthError(`'known_hosts' of the ${secret} is invalid: ${err.message}`, { hint: 'use OpenSSH known_hosts lines: <host patterns> <key type> <base64 key>' });
  }
  if (keysForHost(knownHosts, remote.host, remote.port).length === 0) {
    if (onlyAuthoritiesForHost(knownHosts, remote.host, remote.port)) {
      throw new GitHostKeyError(`'known_hosts' of the ${secret} vouches for ${hostName} only with @cert-authority lines: host certificates are not supported by Fluxless`, {
        hint: `add the host's own public key (e.g. from \`${scan}\`) to 'known_hosts'`,
      });
    }
    throw new GitHostKeyError(`'known_hosts' of the ${secret} has no key for ${hostName}`, {
      hint: `add the host's public keys (e.g. the output of \`${scan}\`); for a port other than 22 the entry must read [${remote.host}]:${remote.port}`,
    });
  }
  const transport = createSshTransport({ remote, identity, knownHosts, secret, url, signal });
  return { url, gitUrl: transport.bridgeUrl, http: transport.http, close: () => transport.close() };
}

