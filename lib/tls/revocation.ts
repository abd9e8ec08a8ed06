/**
 * A node's view of the deployment's revocations: the CRL it was told to
 * read, reloaded on demand (SIGHUP) and when the file changes, and every
 * live connection whose peer certificate it lets through, so that a
 * certificate revoked while its holder is connected is cut off at once.
 *
 * @module
 */

import { basename, dirname, resolve } from "node:path";
import { errorMessage } from "../errors.ts";
import { loadCrl, normalizeSerial, type RevocationList } from "./crl.ts";
import type { TLSSocket } from "./mtls.ts";

/** Where revocation events are reported (a `Logger` fits). */
export interface RevocationLog {
  info(msg: string, fields?: Record<string, string | number | undefined>): void;
  warn(msg: string, fields?: Record<string, string | number | undefined>): void;
  error(msg: string, fields?: Record<string, string | number | undefined>): void;
}

/** A file change settles this long before the CRL is read again (editors write in steps). */
const DEBOUNCE_MS = 200;
/** Live connections tracked at most: above both listeners' connection limits, so never reached in use. */
const MAX_TRACKED = 100_000;

interface Tracked {
  socket: TLSSocket;
  cn: string;
  serial: string;
}

/** The revocation list of one node, and the connections it watches. */
export class Revocation {
  /** The CRL file. */
  readonly path: string;
  readonly #caPem: string;
  readonly #log: RevocationLog;
  #list: RevocationList;
  readonly #live = new Set<Tracked>();
  #watcher: Deno.FsWatcher | null = null;
  #debounce: ReturnType<typeof setTimeout> | undefined;
  #reloading: Promise<boolean> | null = null;
  #again = false;
  #closed = false;

  private constructor(path: string, caPem: string, list: RevocationList, log: RevocationLog) {
    this.path = path;
    this.#caPem = caPem;
    this.#list = list;
    this.#log = log;
  }

  /**
   * Reads the CRL at `path`, which `caPem` must have signed. Throws an
   * `OrchError("config")` naming the file when it is missing, unreadable,
   * or not signed by the CA.
   */
  static async open(path: string, caPem: string, log: RevocationLog): Promise<Revocation> {
    const list = await loadCrl(path, caPem);
    const r = new Revocation(path, caPem, list, log);
    r.#warnIfStale();
    return r;
  }

  /** How many certificates are revoked. */
  get size(): number {
    return this.#list.revoked.size;
  }

  /** When the certificate with `serial` was revoked, or null when it is not. */
  revokedAt(serial: string): Date | null {
    return this.#list.revoked.get(normalizeSerial(serial)) ?? null;
  }

  /**
   * Watches `socket`, whose verified peer holds certificate `serial` named
   * `cn`, until it closes: a reload that revokes the certificate destroys it.
   */
  track(socket: TLSSocket, cn: string, serial: string): void {
    if (this.#closed || this.#live.size >= MAX_TRACKED) return;
    const t: Tracked = { socket, cn, serial: normalizeSerial(serial) };
    this.#live.add(t);
    socket.once("close", () => this.#live.delete(t));
  }

  /**
   * Reads the CRL again. A file that cannot be read or is not signed by the
   * CA leaves the previous list in force (logged as an error); otherwise
   * every tracked connection whose certificate is now revoked is closed.
   * Resolves with whether the new list was taken.
   */
  reload(): Promise<boolean> {
    if (this.#reloading) {
      // A change during a reload is read once more afterwards, never lost.
      this.#again = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      let taken = false;
      do {
        this.#again = false;
        taken = await this.#reloadOnce();
      } while (this.#again && !this.#closed);
      return taken;
    })().finally(() => (this.#reloading = null));
    return this.#reloading;
  }

  async #reloadOnce(): Promise<boolean> {
    let next: RevocationList;
    try {
      next = await loadCrl(this.path, this.#caPem);
    } catch (err) {
      this.#log.error("CRL not reloaded; keeping the previous list", {
        crl: this.path,
        error: errorMessage(err),
      });
      return false;
    }
    if (this.#closed) return false;
    // An older CRL, even one the CA signed, would take revocations back: it is not taken.
    if (next.thisUpdate.getTime() < this.#list.thisUpdate.getTime()) {
      this.#log.error("CRL not reloaded: it is older than the one in force; keeping that", {
        crl: this.path,
        this_update: next.thisUpdate.toISOString(),
        in_force: this.#list.thisUpdate.toISOString(),
      });
      return false;
    }
    const before = this.#list.revoked.size;
    this.#list = next;
    this.#log.info("CRL reloaded", { crl: this.path, revoked: next.revoked.size, before });
    this.#warnIfStale();
    for (const t of [...this.#live]) {
      if (!next.revoked.has(t.serial)) continue;
      this.#live.delete(t);
      this.#log.warn("closed a connection: the peer's certificate is revoked", {
        cn: t.cn,
        serial: t.serial,
      });
      t.socket.destroy();
    }
    return true;
  }

  #warnIfStale(): void {
    const next = this.#list.nextUpdate;
    if (next !== null && next.getTime() < Date.now()) {
      this.#log.warn("the CRL is past its next update; make a fresh one with orch ca revoke", {
        crl: this.path,
        next_update: next.toISOString(),
      });
    }
  }

  /** Reloads whenever the CRL file changes, until {@linkcode close}. */
  watch(): void {
    if (this.#closed || this.#watcher) return;
    const file = resolve(this.path);
    const name = basename(file);
    // The folder is watched, not the file: operators replace the file (mv, cp), which ends a file watch.
    const watcher = Deno.watchFs(dirname(file), { recursive: false });
    this.#watcher = watcher;
    (async () => {
      try {
        for await (const event of watcher) {
          if (!event.paths.some((p) => basename(p) === name)) continue;
          clearTimeout(this.#debounce);
          this.#debounce = setTimeout(() => void this.reload(), DEBOUNCE_MS);
        }
      } catch (err) {
        if (!this.#closed) {
          this.#log.error("stopped watching the CRL file", {
            crl: this.path,
            error: errorMessage(err),
          });
        }
      }
    })();
  }

  /** Stops watching the file; tracked connections stay as they are. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#debounce);
    try {
      this.#watcher?.close();
    } catch {
      // already closed
    }
    this.#watcher = null;
    this.#live.clear();
  }
}
