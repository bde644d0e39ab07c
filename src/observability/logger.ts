/** Owns the logger interface hashgate writes operational events to, and its defaults. */

/**
 * A logger: pino, winston and console-like objects fit. hashgate never passes hashes, list
 * contents, match details, file names or paths in messages or fields — only counts, codes,
 * list names, durations and opaque incident ids.
 */
export interface Logger {
  debug?(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Drops everything. */
export const silentLogger: Logger = Object.freeze({ info() {}, warn() {}, error() {} });

/** Writes warnings and errors as one JSON line each to standard error; drops info and debug. */
export const stderrLogger: Logger = Object.freeze({
  info() {},
  warn(message: string, fields?: Record<string, unknown>) {
    process.stderr.write(`${JSON.stringify({ level: 'warn', name: 'hashgate', message, ...fields })}\n`);
  },
  error(message: string, fields?: Record<string, unknown>) {
    process.stderr.write(`${JSON.stringify({ level: 'error', name: 'hashgate', message, ...fields })}\n`);
  },
});

/** The code and class of an error, for log fields (never its message, which may carry a path). */
export function errorFields(err: unknown): { code: string; error: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return {
    code: typeof code === 'string' ? code : 'unknown',
    error: err instanceof Error ? err.name : typeof err,
  };
}
