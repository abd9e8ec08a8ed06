/**
 * Who is on the local Unix socket. Deno gives a server no access to the
 * socket peer's credentials (SO_PEERCRED), so a local caller proves its
 * user the way the kernel lets any process prove it: by owning a file.
 *
 * Beside the socket the conductor keeps a proof folder (`SOCKET.auth`,
 * sticky, writable but not listable by those who may use the socket). For
 * each request the client creates there a new file named by 32 random
 * bytes (hex), holding that same text, and sends the name in the
 * `authorization: OrchLocal NAME` header. The conductor checks the entry is
 * a regular file (not a link), with one link, created in the last minute,
 * owned by uid U, holding its own name; deletes it; and takes the caller to
 * be user U. Only U (or root) can create a file owned by U; nobody else can
 * list the folder to learn a name, move a file into it under a fresh name
 * with the right contents, or replace an entry of U's (sticky bit).
 *
 * @module
 */

import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { errorMessage, OrchError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { LOCAL_AUTH_SCHEME, proofFolder } from "../protocol/mod.ts";

/** A proof's name: 32 random bytes in hex. */
const PROOF_NAME = /^[0-9a-f]{64}$/;
/** How a proof is opened: a link is not followed, and a pipe does not block. */
const NOFOLLOW_NONBLOCK = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
/** A proof older than this is refused (it was made for an earlier request). */
const PROOF_MAX_AGE_MS = 60_000;
/** Entries of an old proof folder removed at start, at most. */
const MAX_STALE = 100_000;

/** A local caller's user and primary group, as the kernel recorded them on its proof. */
export interface LocalCredentials {
  uid: number;
  gid: number;
}

/** Checks local proofs for one socket. */
export class LocalAuthenticator {
  readonly folder: string;
  readonly #log: Logger;

  private constructor(folder: string, log: Logger) {
    this.folder = folder;
    this.#log = log;
  }

  /**
   * Makes (or takes over and empties) the proof folder of the socket at
   * `socketPath`. It may be written by the same classes of users as the
   * socket (`socketMode`; the group is the socket's, `socketGid`, when one is
   * set), read by no one but the conductor.
   */
  static async prepare(
    socketPath: string,
    socketMode: number,
    log: Logger,
    socketGid: number | null = null,
  ): Promise<LocalAuthenticator> {
    const folder = proofFolder(socketPath);
    // Sticky; group and others may create entries (-wx) where the socket lets them connect.
    const mode = 0o1700 | (socketMode & 0o060 ? 0o030 : 0) | (socketMode & 0o006 ? 0o003 : 0);
    try {
      let info: Deno.FileInfo | null = null;
      try {
        info = await Deno.lstat(folder);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
      if (info && (!info.isDirectory || info.isSymlink)) {
        throw new Error("it exists and is not a folder");
      }
      if (info && info.uid !== Deno.uid()) {
        throw new Error(`it belongs to uid ${info.uid}, not to the conductor's user`);
      }
      if (!info) await Deno.mkdir(folder, { mode: 0o700 });
      else await clearFolder(folder);
      // The socket's group writes its proofs here: the folder is that group's too.
      if (socketGid !== null) await Deno.chown(folder, null, socketGid);
      await Deno.chmod(folder, mode);
    } catch (err) {
      throw new OrchError(
        "config",
        `cannot prepare the local proof folder ${folder} of audience socket ${socketPath}: ${
          errorMessage(err)
        }`,
      );
    }
    log.debug("local proof folder ready", { folder, mode: mode.toString(8) });
    // With hard links unprotected, a user could link a file of another's (one it can write) into
    // the folder under a fresh name, then remove the original: the proof would pass as that user's.
    const hardlinks = await Deno.readTextFile("/proc/sys/fs/protected_hardlinks").catch(() => "");
    if (hardlinks.trim() === "0") {
      log.warn(
        "fs.protected_hardlinks is 0: a local user could pass off a file of another user's as its proof; set it to 1",
        { folder },
      );
    }
    return new LocalAuthenticator(folder, log);
  }

  /**
   * The credentials a request's `authorization` header proves; an
   * `unauthenticated` error naming what is wrong otherwise. A proof is used
   * once: it is deleted here.
   */
  async verify(header: string | null): Promise<LocalCredentials> {
    if (header === null) {
      throw new OrchError(
        "unauthenticated",
        "a request on the local socket must prove its user; use the orch command",
        { hint: "see 'Local users' in the README for the OrchLocal header" },
      );
    }
    const [scheme, name, ...rest] = header.trim().split(/\s+/);
    if (scheme !== LOCAL_AUTH_SCHEME || !name || rest.length > 0 || !PROOF_NAME.test(name)) {
      throw new OrchError(
        "unauthenticated",
        `the authorization header is not "${LOCAL_AUTH_SCHEME} <64 hex digits>"`,
      );
    }
    const path = `${this.folder}/${name}`;
    let entry: Deno.FileInfo;
    try {
      entry = await Deno.lstat(path);
    } catch {
      throw new OrchError("unauthenticated", `no proof named by the request in ${this.folder}`);
    }
    try {
      if (!entry.isFile || entry.isSymlink) throw refused("it is not a regular file");
      // Its owner may rename it, and put a link to a device or a pipe in its place, between the
      // look above and the read below: what is read is opened without following a link and
      // without waiting, checked on the open file itself, and read no further than a name.
      let file: FileHandle;
      try {
        file = await open(path, NOFOLLOW_NONBLOCK);
      } catch {
        throw refused("it is not a regular file");
      }
      try {
        const info = await file.stat();
        if (!info.isFile() || info.ino !== entry.ino || info.dev !== entry.dev) {
          throw refused("it is not a regular file");
        }
        if (info.nlink !== 1) throw refused("it has more than one link");
        if (Date.now() - info.mtimeMs > PROOF_MAX_AGE_MS) {
          throw refused("it is older than a minute");
        }
        if (info.size !== name.length) throw refused("it does not hold its own name");
        const buf = new Uint8Array(name.length + 1);
        const { bytesRead } = await file.read(buf, 0, buf.length, 0);
        if (new TextDecoder().decode(buf.subarray(0, bytesRead)) !== name) {
          throw refused("it does not hold its own name");
        }
        return { uid: info.uid, gid: info.gid };
      } finally {
        await file.close();
      }
    } finally {
      await Deno.remove(path).catch((err) => {
        this.#log.warn("cannot remove a used local proof", { path, error: errorMessage(err) });
      });
    }
  }

  /** Removes the proof folder (at shutdown). */
  async close(): Promise<void> {
    await Deno.remove(this.folder, { recursive: true }).catch(() => {});
  }
}

function refused(why: string): OrchError {
  return new OrchError("unauthenticated", `the local proof was refused: ${why}`);
}

/** Empties a proof folder left by an earlier run. */
async function clearFolder(folder: string): Promise<void> {
  let n = 0;
  for await (const e of Deno.readDir(folder)) {
    if (++n > MAX_STALE) break;
    await Deno.remove(`${folder}/${e.name}`, { recursive: true }).catch(() => {});
  }
}
