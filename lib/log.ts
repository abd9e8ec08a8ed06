/**
 * Structured logging. `lib/` never writes to the terminal itself: it is
 * handed a `Logger`, and `cmd/` decides where lines go.
 *
 * Log fields never carry secrets: parameter values, keys and certificate
 * material are not logged anywhere in orch.
 *
 * @module
 */

/** Severity of a log line, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** The log levels in order of severity. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** Values a log field may hold. */
export type LogValue = string | number | boolean | null | undefined;

/** Fields attached to a log line. */
export type LogFields = Record<string, LogValue>;

/** Where lib code reports what it does. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  with(fields: LogFields): Logger;
}

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Lines below this level are dropped. */
  level: LogLevel;
  /** `text`: one human-readable logfmt line; `json`: one JSON object per line. */
  format: "text" | "json";
  /** Receives each finished line, without its newline. */
  write: (line: string) => void;
  /** Clock for the timestamp; tests may pass a fixed one. */
  now?: () => Date;
}

/** A logger that formats lines and hands them to `options.write`. */
export function createLogger(options: LoggerOptions, base: LogFields = {}): Logger {
  const min = LOG_LEVELS.indexOf(options.level);
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(level) < min) return;
    const all = { ...base, ...fields };
    const ts = now().toISOString();
    if (options.format === "json") {
      const record: Record<string, LogValue> = { ts, level, msg };
      for (const [k, v] of Object.entries(all)) if (v !== undefined) record[k] = v;
      options.write(JSON.stringify(record));
      return;
    }
    let line = `${ts} ${level.toUpperCase().padEnd(5)} ${msg}`;
    for (const [k, v] of Object.entries(all)) {
      if (v === undefined) continue;
      line += ` ${k}=${logfmtValue(v)}`;
    }
    options.write(line);
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    with: (fields) => createLogger(options, { ...base, ...fields }),
  };
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  with() {
    return silentLogger;
  },
};

function logfmtValue(v: LogValue): string {
  const s = String(v);
  // deno-lint-ignore no-control-regex -- control characters must be quoted
  if (s !== "" && /^[^\s"=\\\x00-\x1f]+$/.test(s)) return s;
  return JSON.stringify(s);
}
