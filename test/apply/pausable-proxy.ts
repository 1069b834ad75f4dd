/**
 * A loopback TCP proxy in front of a server that can stop forwarding, for fault tests: an
 * "API server paused mid-apply" without pausing the shared API server itself. Paused, it
 * holds every byte in both directions (and accepts new connections without forwarding
 * them), like a SIGSTOPped process whose kernel still queues the traffic; resumed, the held
 * bytes flow on.
 */
import net from 'node:net';

/** A running proxy. */
export interface PausableProxy {
  /** `127.0.0.1:<port>` of the proxy. */
  readonly host: string;
  readonly port: number;
  readonly paused: boolean;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Stops forwarding (synchronously: no byte written after this returns is forwarded). */
  pause(): void;
  /** Forwards again, held bytes first. */
  resume(): void;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 that forwards to `target`. */
export async function startPausableProxy(target: { host: string; port: number }): Promise<PausableProxy> {
  const sockets = new Set<net.Socket>();
  let paused = false;
  let connections = 0;
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    if (paused) s.pause();
  };
  const server = net.createServer((client) => {
    connections++;
    track(client);
    const upstream = net.connect(target.port, target.host);
    track(upstream);
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => client.write(d));
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    host: '127.0.0.1',
    port,
    get paused() {
      return paused;
    },
    get connections() {
      return connections;
    },
    pause() {
      paused = true;
      for (const s of sockets) s.pause();
    },
    resume() {
      paused = false;
      for (const s of sockets) s.resume();
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
