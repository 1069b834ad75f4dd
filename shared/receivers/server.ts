/**
 * The webhook server of `fluxless serve`: a node:http server for a Hono app with limits a
 * public endpoint needs, instead of Node's defaults (no connection cap, 300 s to send a
 * request, 60 s for headers):
 * - a connection cap: connections over it are closed as they arrive;
 * - timeouts for the headers, the whole request, idle keep-alive and socket inactivity;
 * - `Connection: close` on every answer sent before the request body was fully received
 *   (a 404, 405, 413 or 408), so the server never reads an unwanted upload to its end and
 *   the connection (and its file descriptor) is released at once.
 * The body deadline itself is the receiver app's (readBodyCapped); `requestTimeoutMs`
 * here is the backstop for every other route.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { ValidationError } from '../util/errors.js';
import { log as rootLog } from '../util/log.js';
import type { Logger } from '../util/log.js';

/** Resource limits of the server; every field has a default. */
export interface ServerLimits {
  /** Most simultaneous connections; further ones are closed on arrival. Default 256. */
  maxConnections?: number;
  /** Time to receive the request line and headers (ms). Default 10000. */
  headersTimeoutMs?: number;
  /** Time to receive the whole request, body included (ms). Default 30000. */
  requestTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open (ms). Default 5000. */
  keepAliveTimeoutMs?: number;
  /** A socket with no traffic either way for this long is closed (ms). Default 30000. */
  socketTimeoutMs?: number;
  /** Largest request header block (bytes). Default 16384. */
  maxHeaderBytes?: number;
  /** Requests served over one keep-alive connection before it is closed. Default 1000. */
  maxRequestsPerSocket?: number;
}

/** The limits applied when a field is not given. */
export const DEFAULT_SERVER_LIMITS: Readonly<Required<ServerLimits>> = Object.freeze({
  maxConnections: 256,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  socketTimeoutMs: 30_000,
  maxHeaderBytes: 16 * 1024,
  maxRequestsPerSocket: 1000,
});

/** Anything with Hono's `fetch` (a Hono app). */
export interface FetchApp {
  fetch(request: Request, env?: unknown): Response | Promise<Response>;
}

/** Options of startReceiverServer. */
export interface ReceiverServerOptions {
  app: FetchApp;
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one. Default 0. */
  port?: number;
  limits?: ServerLimits;
  logger?: Logger;
}

/** A running server. */
export interface ReceiverServer {
  /** e.g. http://127.0.0.1:9292 */
  url: string;
  port: number;
  /** Open connections now. */
  connections(): number;
  /** Most connections open at once since the start. */
  peakConnections(): number;
  /** Stop accepting, let requests in flight finish for up to `graceMs` (default 5000), then close everything. */
  close(graceMs?: number): Promise<void>;
  /** The node server, for callers that need events (e.g. tests). */
  readonly server: Server;
}

function positive(name: string, v: number, min = 1): number {
  if (!Number.isInteger(v) || v < min) throw new ValidationError(`webhook server limit ${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

/** Resolve and check the limits (headers must time out no later than the whole request). */
export function resolveServerLimits(limits: ServerLimits = {}): Required<ServerLimits> {
  const l = { ...DEFAULT_SERVER_LIMITS, ...Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) } as Required<ServerLimits>;
  for (const [k, v] of Object.entries(l)) positive(k, v);
  if (l.headersTimeoutMs > l.requestTimeoutMs) {
    throw new ValidationError(`webhook server limit headersTimeoutMs (${l.headersTimeoutMs}) must not exceed requestTimeoutMs (${l.requestTimeoutMs})`);
  }
  return l;
}

/** Start the hardened server for `opts.app`; resolves once it listens. */
export async function startReceiverServer(opts: ReceiverServerOptions): Promise<ReceiverServer> {
  const limits = resolveServerLimits(opts.limits);
  const host = opts.host ?? '127.0.0.1';
  const logger = opts.logger ?? rootLog.child({ component: 'webhook-server' });
  const listener = getRequestListener((req: Request, env: unknown) => opts.app.fetch(req, env), { hostname: host });

  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      maxHeaderSize: limits.maxHeaderBytes,
      // How often Node checks the two timeouts above; its default (30 s) would let a
      // slow client overstay a 10 s limit by up to 30 s.
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headersTimeoutMs / 2))),
    },
    (req: IncomingMessage, res: ServerResponse) => {
      closeIfBodyUnread(req, res);
      void listener(req, res);
    },
  );
  server.maxConnections = limits.maxConnections;
  server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
  server.setTimeout(limits.socketTimeoutMs, (socket: Socket) => socket.destroy());

  const sockets = new Set<Socket>();
  let peak = 0;
  let dropped = 0;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    peak = Math.max(peak, sockets.size);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('drop', () => {
    dropped++;
    // One line per 100 drops: a flood must not flood the log too.
    if (dropped % 100 === 1) logger.warn('connection refused: too many open connections', { maxConnections: limits.maxConnections, dropped });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    server,
    connections: () => sockets.size,
    peakConnections: () => peak,
    close(graceMs = 5000) {
      closing ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

/**
 * Make the answer `Connection: close` when it starts before the request body was fully
 * received: Node would otherwise read (and discard) the rest of the upload to reuse the
 * connection, however large it is.
 */
function closeIfBodyUnread(req: IncomingMessage, res: ServerResponse): void {
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length.trim() !== '0');
  if (!hasBody) return;
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (!req.complete && !this.headersSent) this.setHeader('Connection', 'close');
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
}
