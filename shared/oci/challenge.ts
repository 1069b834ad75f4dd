/**
 * `WWW-Authenticate` challenges (RFC 7235) as registries send them:
 * `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"`
 * or `Basic realm="Registry Realm"`. Several challenges may share one header.
 */

/** One challenge: the scheme in lower case and its parameters (names in lower case). */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses every challenge in the header values (a header may be repeated). */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const value of values) parseOne(value, out);
  return out;
}

function parseOne(s: string, out: Challenge[]): void {
  let i = 0;
  const n = s.length;
  const skipWs = () => {
    while (i < n && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(s[i])) i++;
    return s.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < n) {
    skipWs();
    if (s[i] === ',') {
      i++;
      continue;
    }
    const start = i;
    const word = token();
    if (!word) {
      i++; // skip a stray character
      continue;
    }
    skipWs();
    if (s[i] === '=' && current) {
      i++;
      skipWs();
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < n && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < n) i++;
          value += s[i];
          i++;
        }
        i++; // closing quote
      } else {
        value = token();
      }
      current.params[word.toLowerCase()] = value;
      continue;
    }
    if (s[i] === '=' && !current) {
      // A parameter before any scheme: ignore it.
      i = start + word.length + 1;
      token();
      continue;
    }
    current = { scheme: word.toLowerCase(), params: {} };
    out.push(current);
  }
}
