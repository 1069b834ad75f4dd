/**
 * notifier/util.go parseGitAddress: a repository address (https, http, ssh, or scp-like
 * `git@host:owner/repo`) as the API host (`<scheme>://<host>`, ssh becomes https) and the
 * repository id (the path without the leading `/` and the `.git` suffix).
 */
import { PermanentDeliveryError } from '../errors.js';

const SCP = /^(?:([^@/]+)@)?([^:/]+):(?!\/\/)(.*)$/;

/** The host and id of a repository address. */
export function parseGitAddress(address: string): { host: string; id: string } {
  let scheme: string;
  let host: string;
  let path: string;
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(address)) {
    let u: URL;
    try {
      u = new URL(address);
    } catch {
      throw new PermanentDeliveryError(`failed parsing URL "${address}": invalid URL`);
    }
    scheme = u.protocol.replace(/:$/, '');
    host = u.host;
    path = decodeURIComponent(u.pathname);
  } else {
    const m = SCP.exec(address);
    if (!m) throw new PermanentDeliveryError(`failed parsing URL "${address}": not a repository address (use https://<host>/<owner>/<repo>)`);
    scheme = 'ssh';
    host = m[2];
    path = m[3];
  }
  if (scheme === 'ssh' || scheme === 'git+ssh') scheme = 'https';
  let id = path.replace(/^\/+/, '');
  if (id.endsWith('.git')) id = id.slice(0, -4);
  return { host: `${scheme}://${host}`, id };
}
