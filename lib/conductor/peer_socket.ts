/**
 * A Unix socket server that knows who is calling: the kernel's credentials
 * of each peer (`SO_PEERCRED`). Deno gives a server no peer credentials on
 * Unix sockets, so this one is served with the C library's own calls
 * through FFI (glibc on Linux): `socket`, `bind`, `listen`, `accept4`,
 * `getsockopt`, `read`, `write`, `shutdown`, `close`. The calls that wait
 * (`accept4`, `read`, `write`) run off the event loop (`nonblocking`), and
 * every wait is bounded by the socket's receive and send timeouts. Each
 * connection carries one request and one answer, then is closed.
 *
 * @module
 */

import { errorMessage, OrchError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { ThrottledLog } from "./throttle.ts";

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
/** Option numbers of x86_64 and aarch64 Linux (asm-generic), the only builds of Deno on Linux. */
const SO_PEERCRED = 17;
const SO_RCVTIMEO = 20;
const SO_SNDTIMEO = 21;
const SHUT_RD = 0;
const SHUT_RDWR = 2;
/** `sizeof(struct sockaddr_un)`: a 2-byte family and a 108-byte path with its NUL. */
const SOCKADDR_UN = 110;
const MAX_PATH = 107;
/** Connections waiting to be accepted at most. */
const BACKLOG = 128;
/** Bytes read at once. */
const CHUNK = 65536;
/** Wait after a failed accept (out of file descriptors) before the next. */
const ACCEPT_RETRY_MS = 100;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "pointer", "pointer", "i32"], result: "i32", nonblocking: true },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize", nonblocking: true },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize", nonblocking: true },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>;

/** Who is on the other end of a connection, as the kernel recorded it at connect. */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** One request as it arrived. */
export interface PeerRequest {
  peer: PeerCredentials;
  /** The bytes read (all of them, or as many as arrived before the problem). */
  body: Uint8Array;
  /**
   * `too_large`: more than `maxRequest` bytes; `timeout`: not whole within
   * `requestMs` (or the read failed); `ended`: the peer stopped sending
   * before it was whole; null when whole.
   */
  problem: "too_large" | "timeout" | "ended" | null;
}

/** Options of {@linkcode servePeerSocket}. */
export interface PeerSocketOptions {
  path: string;
  /** File mode of the socket, set before it listens. */
  mode: number;
  /** Group of the socket file, set before it listens; null leaves it. */
  gid: number | null;
  /** Connections held at once; more are closed at once. */
  maxConnections: number;
  /** A request must arrive whole within this time of the connection; the answer is sent within it too. */
  requestMs: number;
  /** Largest request in bytes. */
  maxRequest: number;
  /** A fresh test of a request's completeness: true once the bytes so far make a whole request. */
  framing: () => (chunk: Uint8Array) => boolean;
  /** Answers one request. */
  serve: (req: PeerRequest) => Promise<Uint8Array>;
  log: Logger;
  /** Names the socket in errors and logs. */
  what: string;
}

/** A serving socket. */
export interface PeerSocket {
  /** Stops accepting, ends the connections, waits for their answers, removes the socket file. */
  stop(): Promise<void>;
}

/**
 * Opens the C library; throws an `Error` saying why when it cannot (not
 * Linux, not glibc, no FFI permission).
 */
function openLibc(): Libc {
  if (Deno.build.os !== "linux") throw new Error(`this is ${Deno.build.os}, not Linux`);
  try {
    return Deno.dlopen("libc.so.6", SYMBOLS);
  } catch (err) {
    throw new Error(`cannot call the C library (glibc) through FFI: ${errorMessage(err)}`);
  }
}

/** The last error of a call made on this thread (a blocking call), in words. */
function lastError(lib: Libc): string {
  const at = lib.symbols.__errno_location();
  if (at === null) return "unknown error";
  const errno = new Deno.UnsafePointerView(at).getInt32();
  const text = lib.symbols.strerror(errno);
  return text === null ? `errno ${errno}` : new Deno.UnsafePointerView(text).getCString();
}

/**
 * Listens on `opts.path` (which must not exist: clear a stale one first)
 * and serves each connection. Throws `OrchError("config")` when the socket
 * cannot be made.
 */
export function servePeerSocket(opts: PeerSocketOptions): PeerSocket {
  const lib = openLibc();
  const s = lib.symbols;
  const pathBytes = new TextEncoder().encode(opts.path);
  const fail = (why: string): never => {
    throw new OrchError("config", `cannot listen on ${opts.what} ${opts.path}: ${why}`);
  };
  if (pathBytes.length > MAX_PATH) {
    lib.close();
    fail(`the path is longer than ${MAX_PATH} bytes`);
  }
  const fd = s.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const why = lastError(lib);
    lib.close();
    fail(why);
  }
  let bound = false;
  try {
    const addr = new Uint8Array(SOCKADDR_UN);
    new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
    addr.set(pathBytes, 2);
    if (s.bind(fd, addr, SOCKADDR_UN) !== 0) fail(lastError(lib));
    bound = true;
    // Nobody can connect before listen(): the mode and group are in place first.
    try {
      if (opts.gid !== null) Deno.chownSync(opts.path, null, opts.gid);
      Deno.chmodSync(opts.path, opts.mode);
    } catch (err) {
      fail(`cannot set its mode or group: ${errorMessage(err)}`);
    }
    if (s.listen(fd, BACKLOG) !== 0) fail(lastError(lib));
  } catch (err) {
    s.close(fd);
    lib.close();
    if (bound) {
      try {
        Deno.removeSync(opts.path);
      } catch {
        // Gone already.
      }
    }
    throw err;
  }
  return new Server(lib, fd, opts);
}

class Server implements PeerSocket {
  readonly #lib: Libc;
  readonly #fd: number;
  readonly #o: PeerSocketOptions;
  /** Connections open now (their descriptors), each with its end. */
  readonly #open = new Map<number, Promise<void>>();
  readonly #refused: ThrottledLog;
  readonly #acceptFailed: ThrottledLog;
  #stopping = false;
  readonly #loop: Promise<void>;
  #stopped: Promise<void> | null = null;

  constructor(lib: Libc, fd: number, o: PeerSocketOptions) {
    this.#lib = lib;
    this.#fd = fd;
    this.#o = o;
    this.#refused = new ThrottledLog(o.log, "warn", `${o.what}: too many connections; refused`);
    this.#acceptFailed = new ThrottledLog(o.log, "warn", `${o.what}: accept failed`);
    this.#loop = this.#acceptLoop();
  }

  async #acceptLoop(): Promise<void> {
    const s = this.#lib.symbols;
    while (!this.#stopping) {
      const c = await s.accept4(this.#fd, null, null, SOCK_CLOEXEC);
      if (this.#stopping) {
        if (c >= 0) s.close(c);
        return;
      }
      if (c < 0) {
        // errno belongs to the thread that ran the call: not readable here.
        this.#acceptFailed.note({});
        await new Promise((r) => setTimeout(r, ACCEPT_RETRY_MS));
        continue;
      }
      if (this.#open.size >= this.#o.maxConnections) {
        this.#refused.note({ max: this.#o.maxConnections });
        s.close(c);
        continue;
      }
      const done = this.#connection(c).catch((err) => {
        this.#o.log.error(`${this.#o.what}: a connection failed`, { error: errorMessage(err) });
      }).finally(() => {
        // Forgotten before it is closed, in the same turn: stop() never touches a reused number.
        this.#open.delete(c);
        s.close(c);
      });
      this.#open.set(c, done);
    }
  }

  async #connection(c: number): Promise<void> {
    const s = this.#lib.symbols;
    const o = this.#o;
    const cred = new Int32Array(3);
    const len = new Uint32Array([12]);
    if (s.getsockopt(c, SOL_SOCKET, SO_PEERCRED, bytesOf(cred), bytesOf(len)) !== 0) {
      throw new Error(`cannot read the peer's credentials: ${lastError(this.#lib)}`);
    }
    const peer = { pid: cred[0], uid: cred[1], gid: cred[2] };
    const deadline = performance.now() + o.requestMs;
    const whole = o.framing();
    const chunks: Uint8Array[] = [];
    let size = 0;
    let problem: PeerRequest["problem"] = "ended";
    const buf = new Uint8Array(CHUNK);
    while (true) {
      const left = deadline - performance.now();
      if (left <= 0 || !this.#timeout(c, SO_RCVTIMEO, left)) {
        problem = "timeout";
        break;
      }
      const n = Number(await s.read(c, buf, BigInt(buf.length)));
      if (n < 0) {
        problem = "timeout";
        break;
      }
      if (n === 0) break;
      const chunk = buf.slice(0, n);
      size += n;
      if (size > o.maxRequest) {
        problem = "too_large";
        break;
      }
      chunks.push(chunk);
      if (whole(chunk)) {
        problem = null;
        break;
      }
    }
    const body = new Uint8Array(Math.min(size, o.maxRequest));
    let at = 0;
    for (const chunk of chunks) {
      body.set(chunk, at);
      at += chunk.length;
    }
    const answer = await o.serve({ peer, body: body.subarray(0, at), problem });
    // The whole answer must be taken within the time a request may take to arrive.
    const sendBy = performance.now() + o.requestMs;
    let sent = 0;
    while (sent < answer.length) {
      const left = sendBy - performance.now();
      if (left <= 0 || !this.#timeout(c, SO_SNDTIMEO, left)) return;
      const n = Number(await s.write(c, answer.subarray(sent), BigInt(answer.length - sent)));
      if (n <= 0) return;
      sent += n;
    }
  }

  /** Sets a receive or send timeout of `ms` on `c`. */
  #timeout(c: number, option: number, ms: number): boolean {
    const whole = Math.ceil(ms);
    const tv = new BigInt64Array([BigInt(Math.floor(whole / 1000)), BigInt((whole % 1000) * 1000)]);
    return this.#lib.symbols.setsockopt(c, SOL_SOCKET, option, bytesOf(tv), 16) === 0;
  }

  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#stopping = true;
      const s = this.#lib.symbols;
      // Wakes the accept, and every read waiting on a connection (its answer may still be sent).
      s.shutdown(this.#fd, SHUT_RDWR);
      for (const c of this.#open.keys()) s.shutdown(c, SHUT_RD);
      await this.#loop;
      await Promise.all(this.#open.values());
      s.close(this.#fd);
      this.#lib.close();
      try {
        Deno.removeSync(this.#o.path);
      } catch {
        // Already gone.
      }
    })();
    return this.#stopped;
  }
}

function bytesOf(a: Int32Array | Uint32Array | BigInt64Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(a.buffer as ArrayBuffer);
}
