/**
 * Loopback HTTP endpoints standing in for chat providers and Git hosts in tests: every
 * request is recorded exactly (method, path with query, headers, raw body bytes), and the
 * answer comes from a scriptable handler. `startForge` adds a small stateful fake of the
 * GitHub and GitLab REST APIs (commit statuses, check runs, PR comments, MR notes) on top.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as received. */
export interface Recorded {
  method: string;
  /** Path with query, e.g. `/api/v3/repos/o/r/statuses/abc`. */
  url: string;
  headers: http.IncomingHttpHeaders;
  /** The raw body. */
  raw: Buffer;
  body: string;
  json<T = unknown>(): T;
}

/** What a handler answers. */
export interface Answer {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A running recorder. */
export interface Recorder {
  url: string;
  requests: Recorded[];
  /** Replaces the handler (default: 200 `{}`). */
  handle(h: (r: Recorded) => Answer | Promise<Answer>): void;
  /** Requests whose method and path (without query) match. */
  find(method: string, path: string | RegExp): Recorded[];
  /** Resolves once `pred` holds for the recorded requests (checked on every request; no timer). */
  waitFor(what: string, pred: (rs: Recorded[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts a recorder on 127.0.0.1. */
export async function startRecorder(): Promise<Recorder> {
  const requests: Recorded[] = [];
  let handler: (r: Recorded) => Answer | Promise<Answer> = () => ({ status: 200, body: {} });
  const waiters: Array<{ pred: (rs: Recorded[]) => boolean; resolve: () => void }> = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (w.pred(requests)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const rec: Recorded = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        raw,
        body: raw.toString('utf8'),
        json: <T>() => JSON.parse(raw.toString('utf8')) as T,
      };
      requests.push(rec);
      Promise.resolve()
        .then(() => handler(rec))
        .catch((err: unknown): Answer => ({ status: 500, body: { message: String(err) } }))
        .then((a) => {
          const body = a.body === undefined ? '' : typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
          res.writeHead(a.status ?? 200, { 'content-type': 'application/json', ...(a.headers ?? {}) });
          res.end(body);
          check();
        });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    handle(h) {
      handler = h;
    },
    find(method, path) {
      return requests.filter((r) => r.method === method && (typeof path === 'string' ? r.url.split('?')[0] === path : path.test(r.url)));
    },
    waitFor(what, pred, timeoutMs = 90_000) {
      if (pred(requests)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const w = { pred, resolve: () => (clearTimeout(timer), resolve()) };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`timed out waiting for ${what}; received: ${requests.map((r) => `${r.method} ${r.url}`).join(', ') || 'nothing'}`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A check run as the fake GitHub keeps it. */
export interface FakeCheckRun {
  id: number;
  name: string;
  head_sha: string;
  status: string;
  conclusion?: string;
  external_id?: string;
  output?: { title?: string; summary?: string };
}

/** A stateful fake of GitHub's and GitLab's REST APIs on a recorder. */
export interface Forge extends Recorder {
  checkRuns: FakeCheckRun[];
  statuses: Map<string, Array<Record<string, unknown>>>;
  notes: Array<{ id: number; body: string; author: { username: string } }>;
  comments: Array<{ id: number; body: string; user: { login: string } }>;
  /** Makes the next `n` requests to paths matching `re` answer `status`. */
  failNext(re: RegExp, n: number, status?: number): void;
}

/** Starts the fake forge: GitHub under `/api/v3`, GitLab under `/api/v4`. */
export async function startForge(opts: { login?: string } = {}): Promise<Forge> {
  const rec = await startRecorder();
  const checkRuns: FakeCheckRun[] = [];
  const statuses = new Map<string, Array<Record<string, unknown>>>();
  const notes: Array<{ id: number; body: string; author: { username: string } }> = [];
  const comments: Array<{ id: number; body: string; user: { login: string } }> = [];
  const failures: Array<{ re: RegExp; n: number; status: number }> = [];
  let nextId = 1;
  rec.handle((r) => {
    const [p, q = ''] = r.url.split('?');
    const query = new URLSearchParams(q);
    const f = failures.find((x) => x.n > 0 && x.re.test(p));
    if (f) {
      f.n--;
      return { status: f.status, body: { message: 'injected failure' } };
    }
    let m: RegExpExecArray | null;
    // GitHub
    if ((m = /^\/api\/v3\/repos\/[^/]+\/[^/]+\/commits\/([0-9a-f]+)\/statuses$/.exec(p)) && r.method === 'GET') return { body: [...(statuses.get(m[1]) ?? [])].reverse() };
    if ((m = /^\/api\/v3\/repos\/[^/]+\/[^/]+\/statuses\/([0-9a-f]+)$/.exec(p)) && r.method === 'POST') {
      const list = statuses.get(m[1]) ?? [];
      list.push(r.json<Record<string, unknown>>());
      statuses.set(m[1], list);
      return { status: 201, body: { id: nextId++ } };
    }
    if ((m = /^\/api\/v3\/repos\/[^/]+\/[^/]+\/commits\/([0-9a-f]+)\/check-runs$/.exec(p)) && r.method === 'GET') {
      const runs = checkRuns.filter((c) => c.head_sha === m![1] && (!query.get('check_name') || c.name === query.get('check_name')));
      return { body: { total_count: runs.length, check_runs: runs } };
    }
    if (/^\/api\/v3\/repos\/[^/]+\/[^/]+\/check-runs$/.test(p) && r.method === 'POST') {
      const b = r.json<FakeCheckRun>();
      const run: FakeCheckRun = { ...b, id: nextId++, status: b.status ?? 'queued' };
      checkRuns.push(run);
      return { status: 201, body: run };
    }
    if ((m = /^\/api\/v3\/repos\/[^/]+\/[^/]+\/check-runs\/(\d+)$/.exec(p)) && r.method === 'PATCH') {
      const run = checkRuns.find((c) => c.id === Number(m![1]));
      if (!run) return { status: 404, body: { message: 'Not Found' } };
      Object.assign(run, r.json<Partial<FakeCheckRun>>());
      return { body: run };
    }
    if (/^\/api\/v3\/repos\/[^/]+\/[^/]+\/dispatches$/.test(p) && r.method === 'POST') return { status: 204 };
    if (p === '/api/v4/user' && r.method === 'GET') return { body: { username: opts.login ?? 'fluxbot' } };
    if (p === '/api/v3/user' && r.method === 'GET') return { body: { login: opts.login ?? 'fluxbot' } };
    if ((m = /^\/api\/v3\/repos\/[^/]+\/[^/]+\/issues\/(\d+)\/comments$/.exec(p))) {
      if (r.method === 'GET') return { body: comments };
      const c = { id: nextId++, body: r.json<{ body: string }>().body, user: { login: opts.login ?? 'fluxbot' } };
      comments.push(c);
      return { status: 201, body: c };
    }
    if ((m = /^\/api\/v3\/repos\/[^/]+\/[^/]+\/issues\/comments\/(\d+)$/.exec(p)) && r.method === 'PATCH') {
      const c = comments.find((x) => x.id === Number(m![1]));
      if (c) c.body = r.json<{ body: string }>().body;
      return { body: c ?? {} };
    }
    // GitLab
    if ((m = /^\/api\/v4\/projects\/[^/]+\/repository\/commits\/([0-9a-f]+)\/statuses$/.exec(p)) && r.method === 'GET') return { body: statuses.get(m[1]) ?? [] };
    if ((m = /^\/api\/v4\/projects\/[^/]+\/statuses\/([0-9a-f]+)$/.exec(p)) && r.method === 'POST') {
      const b = r.json<Record<string, unknown>>();
      const list = statuses.get(m[1]) ?? [];
      list.push({ sha: m[1], status: b.state, name: b.name, description: b.description });
      statuses.set(m[1], list);
      return { status: 201, body: {} };
    }
    if (/^\/api\/v4\/projects\/[^/]+\/merge_requests\/\d+\/notes$/.test(p)) {
      if (r.method === 'GET') return { body: notes };
      const n = { id: nextId++, body: r.json<{ body: string }>().body, author: { username: opts.login ?? 'fluxbot' } };
      notes.push(n);
      return { status: 201, body: n };
    }
    if ((m = /^\/api\/v4\/projects\/[^/]+\/merge_requests\/\d+\/notes\/(\d+)$/.exec(p)) && r.method === 'PUT') {
      const n = notes.find((x) => x.id === Number(m![1]));
      if (n) n.body = r.json<{ body: string }>().body;
      return { body: n ?? {} };
    }
    return { status: 200, body: {} };
  });
  return Object.assign(rec, {
    checkRuns,
    statuses,
    notes,
    comments,
    failNext(re: RegExp, n: number, status = 500) {
      failures.push({ re, n, status });
    },
  });
}
