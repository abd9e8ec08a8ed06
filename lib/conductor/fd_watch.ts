/**
 * Running out of file descriptors, noticed and survived. When the process
 * holds as many descriptors as its limit allows, accepting a connection
 * fails (EMFILE); Deno's `node:net` servers then stop accepting for good,
 * without an error event. So the conductor looks once a second whether it
 * can still open a file: while it cannot, that is logged (once per
 * interval, with a count), and once it can again, the listeners are
 * restarted on the same addresses.
 *
 * @module
 */

import { errorMessage } from "../errors.ts";
import type { Logger } from "../log.ts";
import { ThrottledLog } from "./throttle.ts";

/** How often the watch looks. */
const CHECK_MS = 1000;

/** True when `err` says the process or the system is out of file descriptors. */
export function isFdExhaustion(err: unknown): boolean {
  const text = errorMessage(err);
  return /os error 2[34]\b|EMFILE|ENFILE|too many open files/i.test(text);
}

/** Watches for descriptor exhaustion; `recover` restarts the listeners once it ends. */
export class FdWatch {
  readonly #log: Logger;
  readonly #recover: () => Promise<void>;
  readonly #exhausted: ThrottledLog;
  readonly #timer: ReturnType<typeof setInterval>;
  #since: number | null = null;
  #recovering = false;

  constructor(log: Logger, recover: () => Promise<void>) {
    this.#log = log;
    this.#recover = recover;
    this.#exhausted = new ThrottledLog(
      log,
      "error",
      "out of file descriptors: new connections cannot be accepted",
    );
    this.#timer = setInterval(() => this.check(), CHECK_MS);
    Deno.unrefTimer(this.#timer);
  }

  /** Looks once: can a file still be opened? */
  check(): void {
    if (this.#recovering) return;
    try {
      Deno.openSync("/dev/null").close();
    } catch (err) {
      if (!isFdExhaustion(err)) return;
      this.#since ??= Date.now();
      this.#exhausted.note({ error: errorMessage(err), for_s: this.#seconds() });
      return;
    }
    if (this.#since === null) return;
    this.#exhausted.flush();
    const seconds = this.#seconds();
    this.#since = null;
    this.#recovering = true;
    this.#recover().then(
      () => this.#log.warn("file descriptors available again: listeners restarted", { seconds }),
      (err) => this.#log.error("cannot restart the listeners", { error: errorMessage(err) }),
    ).finally(() => this.#recovering = false);
  }

  #seconds(): number {
    return this.#since === null ? 0 : Math.round((Date.now() - this.#since) / 1000);
  }

  /** Stops watching. */
  stop(): void {
    clearInterval(this.#timer);
    this.#exhausted.flush();
  }
}
