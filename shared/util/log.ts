/**
 * Structured JSON logs, one object per line on stderr. Values under keys that look like
 * secrets are redacted, so a caller that passes a whole object by mistake leaks nothing.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /(token|password|secret|authorization|credential|signature|private.?key|^data$)/i;

/** Structured JSON logger with one method per level and child loggers that add fields. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/** Receives each formatted log line (stderr unless configureLogging replaces it). */
export type LogSink = (line: string) => void;
let sink: LogSink = (line) => process.stderr.write(line + '\n');
let minLevel: LogLevel = (process.env.FLUXLESS_LOG_LEVEL as LogLevel | undefined) ?? 'info';

/** Replace where log lines go (tests capture them) and the minimum level. */
export function configureLogging(opts: { sink?: LogSink; level?: LogLevel }): void {
  if (opts.sink) sink = opts.sink;
  if (opts.level) minLevel = opts.level;
}

/** Copies a value with every field under a secret-looking key (token, password, ...) replaced by `[redacted]`. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEY.test(k) ? '[redacted]' : redact(v, depth + 1);
  }
  return out;
}

function make(base: Record<string, unknown>): Logger {
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (order[level] < order[minLevel]) return;
    const rec = { time: new Date().toISOString(), level, msg, ...base, ...(fields ? (redact(fields) as object) : {}) };
    sink(JSON.stringify(rec));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (f) => make({ ...base, ...(redact(f) as object) }),
  };
}

/** The process's root logger; components derive theirs with child(). */
export const log: Logger = make({});
