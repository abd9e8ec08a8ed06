/**
 * A long-running child process (one of orch's own daemons, started by
 * `orch bench`): spawned with its arguments as a list (no shell), stdin and
 * stdout closed, stderr handed to the caller to read.
 *
 * @module
 */

import { OrchError } from "../errors.ts";

/** How a child process ended. */
export interface ChildStatus {
  /** The exit code, or null when a signal ended it. */
  code: number | null;
  /** The signal that ended it, or null. */
  signal: string | null;
}

/** A started child process. */
export interface Child {
  pid: number;
  /** Its stderr; the caller must read it to the end, or the child blocks once the pipe is full. */
  stderr: ReadableStream<Uint8Array>;
  /** Settles when it has exited. */
  status: Promise<ChildStatus>;
  /** Sends `signal`; does nothing when it has exited. */
  kill(signal: Deno.Signal): void;
}

/** Starts `argv[0]` with the rest of `argv` as its arguments, in `cwd`, with this process's environment. */
export function spawnChild(argv: readonly string[], cwd?: string): Child {
  const [cmd, ...args] = argv;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, { args, cwd, stdin: "null", stdout: "null", stderr: "piped" })
      .spawn();
  } catch (err) {
    throw new OrchError("unavailable", `cannot start ${cmd}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return { code: s.signal ? null : s.code, signal: s.signal ?? null };
  });
  return {
    pid: child.pid,
    stderr: child.stderr,
    status,
    kill(signal) {
      if (exited) return;
      try {
        child.kill(signal);
      } catch {
        // It exited meanwhile.
      }
    },
  };
}
