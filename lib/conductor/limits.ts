/**
 * The conductor's file descriptors: the process limit raised as far as it
 * may go, and the connection limits of each listener derived from it, so
 * that connections alone can never use up the descriptors the database,
 * the players file and the listeners themselves need.
 *
 * Raising the limit calls `getrlimit` / `setrlimit` from the C library
 * through FFI, which exists on Linux (glibc) only; elsewhere, or when the
 * call fails, the limits are read from `/proc/self/limits` if that exists,
 * and left as they are.
 *
 * @module
 */

import { errorMessage } from "../errors.ts";

/** `RLIMIT_NOFILE` on Linux. */
const RLIMIT_NOFILE = 7;
/** What libc reports for "no limit" (`RLIM_INFINITY`), as an unsigned 64-bit value. */
const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

/** The open-file limits of this process, as found at start. */
export interface FdLimits {
  /** The soft limit in force now (after raising), or null when it could not be read. */
  soft: number | null;
  /** The hard limit, or null when it could not be read. */
  hard: number | null;
  /** The soft limit before it was raised, or null when unknown. */
  before: number | null;
  /** Why the limit could not be raised or read, or null. */
  problem: string | null;
}

type Rlimit = {
  getrlimit: { parameters: ["i32", "buffer"]; result: "i32" };
  setrlimit: { parameters: ["i32", "buffer"]; result: "i32" };
};

function toNumber(v: bigint): number {
  return v === RLIM_INFINITY || v > BigInt(Number.MAX_SAFE_INTEGER)
    ? Number.MAX_SAFE_INTEGER
    : Number(v);
}

/**
 * Raises this process's soft open-file limit to its hard limit (Linux, glibc)
 * and reports both. Never throws: a failure is reported in `problem`.
 */
export function raiseFdLimit(): FdLimits {
  let lib: Deno.DynamicLibrary<Rlimit> | null = null;
  try {
    lib = Deno.dlopen<Rlimit>("libc.so.6", {
      getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
      setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
    });
    const lim = new BigUint64Array(2);
    const bytes = new Uint8Array(lim.buffer);
    if (lib.symbols.getrlimit(RLIMIT_NOFILE, bytes) !== 0) throw new Error("getrlimit failed");
    const before = toNumber(lim[0]);
    const hard = toNumber(lim[1]);
    if (lim[0] !== lim[1]) {
      lim[0] = lim[1];
      if (lib.symbols.setrlimit(RLIMIT_NOFILE, bytes) !== 0) {
        return { soft: before, hard, before, problem: "setrlimit refused to raise the limit" };
      }
      lib.symbols.getrlimit(RLIMIT_NOFILE, bytes);
    }
    return { soft: toNumber(lim[0]), hard, before, problem: null };
  } catch (err) {
    const read = readProcLimits();
    return { ...read, before: read.soft, problem: `cannot raise the limit: ${errorMessage(err)}` };
  } finally {
    lib?.close();
  }
}

/** The open-file limits as `/proc/self/limits` shows them (Linux), or nulls. */
export function readProcLimits(): { soft: number | null; hard: number | null } {
  try {
    const text = Deno.readTextFileSync("/proc/self/limits");
    const line = text.split("\n").find((l) => l.startsWith("Max open files"));
    const m = line?.match(/^Max open files\s+(\S+)\s+(\S+)/);
    if (!m) return { soft: null, hard: null };
    const n = (s: string) => s === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(s);
    return { soft: n(m[1]), hard: n(m[2]) };
  } catch {
    return { soft: null, hard: null };
  }
}

/** Descriptors kept out of every connection budget: database, logs, files, listeners. */
export const FD_RESERVE = 128;
/** The soft limit assumed when it cannot be read. */
export const FD_ASSUMED = 1024;

/** How many connections each listener holds at most. */
export interface ConnectionBudget {
  /** The players port. */
  players: number;
  /** Each audience listener (HTTPS, Unix socket). */
  audience: number;
}

/**
 * Splits the descriptors of a `soft` limit between the listeners: after
 * {@linkcode FD_RESERVE} and a tenth of the rest are kept back, the players
 * port gets three quarters and each audience listener an eighth, so all
 * three full at once still leave the reserve free.
 */
export function connectionBudget(soft: number | null): ConnectionBudget {
  const limit = soft ?? FD_ASSUMED;
  const usable = Math.max(0, Math.floor((limit - FD_RESERVE) * 0.9));
  return {
    players: Math.max(16, Math.floor(usable * 0.75)),
    audience: Math.max(8, Math.floor(usable / 8)),
  };
}
