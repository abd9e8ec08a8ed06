/**
 * The one error family that callers catch. Each error carries a stable
 * `code`; codes cross the wire (audience API, player protocol) and are mapped
 * back to `OrchError` in one place each, never matched by message text.
 *
 * Bad input that a user can fix is always an `OrchError` (codes `usage`,
 * `invalid`, `config`, ...), so that it can be told apart from a bug: a stray
 * `TypeError` from our own code must still show its stack trace.
 *
 * @module
 */

/** Every stable error code orch uses, with the HTTP status it maps to. */
export const ERROR_CODES = {
  /** The command line was wrong. */
  usage: 400,
  /** A request or a file was well-formed but its content is not acceptable. */
  invalid: 400,
  /** The named thing does not exist. */
  not_found: 404,
  /** The method is not allowed on that path. */
  not_allowed: 405,
  /** The request conflicts with the current state. */
  conflict: 409,
  /** Nothing to do: the job had already finished (a cancel of a finished job). */
  finished: 409,
  /** The request body is larger than allowed. */
  too_large: 413,
  /** The caller holds as many of something (event streams) as one caller may. */
  too_many: 429,
  /** The caller did not prove who it is. */
  unauthenticated: 401,
  /** The caller is not allowed to do this (or the peer's certificate is not acceptable). */
  forbidden: 403,
  /** A configuration file or flag is wrong. */
  config: 400,
  /** A peer broke the wire protocol. */
  protocol: 400,
  /** The conductor or another needed service cannot be reached. */
  unavailable: 503,
  /** This conductor is a standby; the leader (named when known) serves the request. */
  not_leader: 503,
  /** Waiting ran out of time. */
  timeout: 504,
  /** Something that should not happen did. */
  internal: 500,
} as const;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** An error with a stable code, for callers that need to tell errors apart. */
export class OrchError extends Error {
  /** The stable code. */
  readonly code: ErrorCode;
  /** A hint for a person on how to fix it, when there is one. */
  readonly hint?: string;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; hint?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "OrchError";
    this.code = code;
    if (options?.hint !== undefined) this.hint = options.hint;
  }
}

/**
 * A conductor answered that it is not the leader (a standby of several
 * conductors on one database); `leader` is the leader's address, host:port,
 * when that conductor knows it.
 */
export class NotLeaderError extends OrchError {
  /** The leader's address (host:port), or null when not known. */
  readonly leader: string | null;

  constructor(
    message: string,
    leader: string | null,
    options?: { cause?: unknown; hint?: string },
  ) {
    super("not_leader", message, options);
    this.name = "NotLeaderError";
    this.leader = leader;
  }
}

/** True when `code` is one of orch's error codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_CODES, code);
}

/** Text of any thrown value, for logs and messages. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * True for errors that a user caused and can fix: bad input, bad files,
 * refusals, unreachable peers. Such errors are reported without a stack trace.
 */
export function isUserError(err: unknown): boolean {
  return err instanceof OrchError && err.code !== "internal";
}
