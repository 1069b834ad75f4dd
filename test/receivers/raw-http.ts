/** A raw HTTP/1.1 client for the server-limit tests: sends exactly the bytes given and records what comes back. */
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export interface RawExchange {
  socket: Socket;
  /** Resolves when the server ends or resets the connection: everything it sent, and how it ended. */
  closed: Promise<{ data: string; ended: 'end' | 'reset' }>;
  /** Resolves once some response bytes arrived (the status line at least). */
  firstData: Promise<string>;
}

/** Open a connection to 127.0.0.1:port and write `head` (and `body`, if given) without ending the stream. */
export function rawSend(port: number, head: string, body?: Buffer | string): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    let onFirst: (s: string) => void = () => undefined;
    const firstData = new Promise<string>((r) => (onFirst = r));
    const closed = new Promise<{ data: string; ended: 'end' | 'reset' }>((res) => {
      let ended: 'end' | 'reset' = 'end';
      socket.on('error', () => {
        ended = 'reset';
      });
      socket.on('close', () => res({ data, ended }));
    });
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      onFirst(data);
    });
    socket.once('connect', () => {
      socket.write(head);
      if (body !== undefined) socket.write(body);
      resolve({ socket, closed, firstData });
    });
    socket.once('error', reject);
  });
}

/** The status code and lower-cased headers of a raw HTTP response. */
export function parseResponse(raw: string): { status: number; headers: Record<string, string>; body: string } {
  const end = raw.indexOf('\r\n\r\n');
  const head = end < 0 ? raw : raw.slice(0, end);
  const [statusLine, ...lines] = head.split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status, headers, body: end < 0 ? '' : raw.slice(end + 4) };
}
