/**
 * Scores get only file descriptors 0–2. A process inherits every descriptor
 * its parent left without close-on-exec (a shell's `exec 7>file`, a
 * supervisor's socket), and `Deno.Command` passes those on to every child.
 * {@linkcode closeInheritedFds} marks them all close-on-exec once, at the
 * start of a player: the player itself keeps them open, its scores never
 * see them. Descriptors Deno opens itself are close-on-exec already.
 *
 * Linux only: a tiny FFI call to libc's `close_range(3, ~0U,
 * CLOSE_RANGE_CLOEXEC)` (Linux 5.11), else `fcntl(fd, F_SETFD, FD_CLOEXEC)`
 * over the entries of /proc/self/fd. Most often nothing was inherited (a
 * service manager passes none): /proc/self/fdinfo says so, and the C library
 * is not loaded at all (loading it through FFI costs a player about 3 MiB of
 * resident memory for good).
 *
 * @module
 */

/** What {@linkcode closeInheritedFds} did. */
export interface FdSweep {
  /**
   * How it was done: `close_range`, `fcntl`; `nothing` when every descriptor
   * above 2 was close-on-exec already; `none` when it could not be done.
   */
  how: "close_range" | "fcntl" | "nothing" | "none";
  /** Descriptors above 2 that may still reach scores (when `how` is `none`, or fcntl failed). */
  leaked: number[];
  /** Why it could not be done, when it could not. */
  error: string | null;
}

const CLOSE_RANGE_CLOEXEC = 1 << 2;
const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

/** Descriptors above 2 listed in /proc/self/fd (the listing's own included); [] where unknown. */
export function openFds(): number[] {
  try {
    return [...Deno.readDirSync("/proc/self/fd")].map((e) => Number(e.name))
      .filter((fd) => Number.isInteger(fd) && fd > 2).sort((a, b) => a - b);
  } catch {
    return [];
  }
}

/** O_CLOEXEC in the `flags:` line of /proc/PID/fdinfo/FD (octal). */
const O_CLOEXEC = 0o2000000;

/**
 * Descriptors above 2 that a child would inherit (not close-on-exec), from
 * /proc/self/fdinfo; null when that cannot be told.
 */
export function inheritableFds(): number[] | null {
  const found: number[] = [];
  for (const fd of openFds()) {
    let info: string;
    try {
      info = Deno.readTextFileSync(`/proc/self/fdinfo/${fd}`);
    } catch (err) {
      // The listing's own descriptor, closed since: not open any more.
      if (err instanceof Deno.errors.NotFound) continue;
      return null;
    }
    const flags = info.match(/^flags:\s+([0-7]+)$/m);
    if (!flags) return null;
    if ((parseInt(flags[1], 8) & O_CLOEXEC) === 0) found.push(fd);
  }
  return found;
}

/**
 * Marks every descriptor above 2 close-on-exec, so that no score inherits
 * one. Never throws: what it could not do is in the result, for the caller
 * to log.
 */
export function closeInheritedFds(): FdSweep {
  if (Deno.build.os !== "linux") {
    return { how: "none", leaked: [], error: `not supported on ${Deno.build.os}` };
  }
  if (inheritableFds()?.length === 0) return { how: "nothing", leaked: [], error: null };
  let lib;
  try {
    lib = Deno.dlopen("libc.so.6", {
      close_range: { parameters: ["u32", "u32", "i32"], result: "i32", optional: true },
      // fcntl is variadic; its third argument is an int here, passed like any other.
      fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
    });
  } catch (err) {
    return { how: "none", leaked: openFds(), error: `cannot load libc: ${(err as Error).message}` };
  }
  try {
    if (lib.symbols.close_range !== null) {
      if (lib.symbols.close_range(3, 0xffff_ffff, CLOSE_RANGE_CLOEXEC) === 0) {
        return { how: "close_range", leaked: [], error: null };
      }
    }
    // An older kernel (ENOSYS, EINVAL) or libc: one descriptor at a time.
    const failed = openFds().filter((fd) => lib.symbols.fcntl(fd, F_SETFD, FD_CLOEXEC) !== 0);
    // The listing's own descriptor is closed by now, so fcntl fails on it: a leak is a
    // descriptor still open without close-on-exec.
    const real = failed.filter((fd) => {
      const flags = lib.symbols.fcntl(fd, F_GETFD, 0);
      return flags >= 0 && (flags & FD_CLOEXEC) === 0;
    });
    return {
      how: "fcntl",
      leaked: real,
      error: real.length > 0 ? "fcntl(F_SETFD) failed for some descriptors" : null,
    };
  } finally {
    lib.close();
  }
}
