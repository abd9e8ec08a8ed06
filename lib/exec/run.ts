/**
 * Running one score: spawn it as the leader of its own process group with
 * an environment built from nothing, feed stdin, keep bounded output, and
 * on timeout or cancel stop the whole group — SIGTERM, then SIGKILL after
 * a grace period — so that no child is left behind.
 *
 * The only owner of `Deno.Command` and `Deno.kill`.
 *
 * @module
 */

import { OrchError } from "../errors.ts";
import { HeadTailBuffer } from "./output.ts";

/** What to run and how. */
export interface RunOptions {
  /** Absolute path of the executable; it is run with no arguments. */
  executable: string;
  cwd: string;
  /** The complete environment; nothing is inherited. */
  env: Record<string, string>;
  /** Bytes for stdin, or null for an empty stdin. */
  stdin: Uint8Array | null;
  /** Stop the score after this many ms; null for no limit. */
  timeoutMs: number | null;
  /** Time between SIGTERM and SIGKILL. */
  killGraceMs: number;
  /** Bytes of the start of stdout and of stderr kept, each. */
  headBytes: number;
  /** Bytes of the end of stdout and of stderr kept, each. */
  tailBytes: number;
  /** Sees every stdout chunk (response parsing). */
  onStdout?: (chunk: Uint8Array) => void;
  /** Gets each chunk of stderr as it is read. */
  onStderr?: (chunk: Uint8Array) => void;
  /** Aborting it stops the score like a timeout, with outcome cancelled. */
  signal?: AbortSignal;
  /** Told the process id as soon as the score has started. */
  onSpawn?: (pid: number) => void;
  /** After the score exits, wait this long for output still held open by its children. */
  drainMs?: number;
  /** Run as this user and group (needs root); supplementary groups are cleared. */
  runAs?: { uid: number; gid: number; user: string } | null;
}

/** How a run ended. */
export interface RunOutcome {
  /** The exit code, or null when a signal ended it. */
  exitCode: number | null;
  /** The signal that ended it, or null. */
  signal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  /** The start and the end of stdout, marked where bytes were dropped between them. */
  stdoutTail: string;
  stderrTail: string;
  /** Bytes of stdout not in `stdoutTail`. */
  stdoutDropped: number;
  stderrDropped: number;
  startedAt: number;
  endedAt: number;
  pid: number;
}

/** The score could not be started at all (nothing ran). */
export class SpawnError extends OrchError {
  constructor(message: string, cause: unknown) {
    super("invalid", message, { cause });
    this.name = "SpawnError";
  }
}

/** Runs a score to its end. Throws {@linkcode SpawnError} when it cannot start. */
export async function runScore(opts: RunOptions): Promise<RunOutcome> {
  const startedAt = Date.now();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(opts.executable, {
      args: [],
      cwd: opts.cwd,
      env: opts.env,
      clearEnv: true,
      stdin: opts.stdin === null ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      detached: true,
      // As root, the child calls setgroups(0), setgid and setuid before exec.
      ...(opts.runAs ? { uid: opts.runAs.uid, gid: opts.runAs.gid } : {}),
    }).spawn();
  } catch (err) {
    throw new SpawnError(spawnErrorMessage(opts, err), err);
  }
  const pid = child.pid;
  try {
    opts.onSpawn?.(pid);
  } catch (err) {
    // The caller could not record the run: nothing may run that orch cannot account for.
    signalGroup(pid, "SIGKILL");
    if (opts.stdin !== null) await child.stdin.close().catch(() => {});
    await Promise.all([
      child.stdout.cancel().catch(() => {}),
      child.stderr.cancel().catch(() => {}),
    ]);
    await child.status;
    throw err;
  }

  if (opts.stdin !== null) {
    const writer = child.stdin.getWriter();
    writer.write(opts.stdin).then(() => writer.close()).catch(() => {
      // The score exited or closed stdin without reading it all; that is its business.
    });
  }

  const stdoutTail = new HeadTailBuffer(opts.headBytes, opts.tailBytes);
  const stderrTail = new HeadTailBuffer(opts.headBytes, opts.tailBytes);
  const stdoutDone = pump(child.stdout, (c) => {
    stdoutTail.write(c);
    opts.onStdout?.(c);
  });
  const stderrDone = pump(child.stderr, (c) => {
    stderrTail.write(c);
    opts.onStderr?.(c);
  });

  let timedOut = false;
  let cancelled = false;
  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= stopGroup(pid, opts.killGraceMs);
  };
  // Timers wait at most 2^31-1 ms; a longer delay would fire at once.
  const timer = opts.timeoutMs === null ? undefined : setTimeout(() => {
    timedOut = true;
    stop();
  }, Math.min(opts.timeoutMs, 2_147_483_647));
  const onAbort = () => {
    if (timedOut) return;
    cancelled = true;
    stop();
  };
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener("abort", onAbort, { once: true });

  const status = await child.status;
  clearTimeout(timer);
  opts.signal?.removeEventListener("abort", onAbort);
  if (stopping) await stopping;

  // Children that outlive the score may hold its output open; do not wait for them forever.
  const drainMs = opts.drainMs ?? 2000;
  let drainTimer: ReturnType<typeof setTimeout> | undefined;
  const drained = await Promise.race([
    Promise.all([stdoutDone.done, stderrDone.done]).then(() => true),
    new Promise<boolean>((r) => (drainTimer = setTimeout(() => r(false), drainMs))),
  ]);
  clearTimeout(drainTimer);
  if (!drained) {
    await Promise.all([stdoutDone.cancel(), stderrDone.cancel()]);
  }

  const stdout = stdoutTail.result();
  const stderr = stderrTail.result();
  return {
    exitCode: status.signal ? null : status.code,
    signal: status.signal ?? null,
    timedOut,
    cancelled,
    stdoutTail: stdout.text,
    stderrTail: stderr.text,
    stdoutDropped: stdout.dropped,
    stderrDropped: stderr.dropped,
    startedAt,
    endedAt: Date.now(),
    pid,
  };
}

/** Reads a stream to its end, handing each chunk to `sink`. */
function pump(stream: ReadableStream<Uint8Array>, sink: (chunk: Uint8Array) => void) {
  const reader = stream.getReader();
  const done = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        sink(value);
      }
    } catch {
      // Cancelled after the drain period, or the pipe broke: the output so far stands.
    }
  })();
  return { done, cancel: () => reader.cancel().catch(() => {}).then(() => done) };
}

/**
 * Stops process group `pgid`: SIGTERM now, SIGKILL after `graceMs` unless
 * the whole group is gone before (an exited but unreaped leader counts as
 * gone). Resolves once the group is gone or has been sent SIGKILL.
 */
async function stopGroup(pgid: number, graceMs: number): Promise<void> {
  signalGroup(pgid, "SIGTERM");
  // A process stopped with SIGSTOP would never see SIGTERM; SIGCONT lets it.
  signalGroup(pgid, "SIGCONT");
  await raceGroup(pgid, graceMs);
  if (groupAlive(pgid) !== false) signalGroup(pgid, "SIGKILL");
}

/** Waits until group `pgid` has no live processes, or `ms` have passed. */
async function raceGroup(pgid: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (groupAlive(pgid) === false) return;
    await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadline - Date.now()))));
  }
}

function signalGroup(pgid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(-pgid, sig);
  } catch {
    // ESRCH: the group is gone already.
  }
}

/**
 * Whether any process is in group `pgid`: read from /proc on Linux;
 * undefined where that cannot be known.
 */
export function groupAlive(pgid: number): boolean | undefined {
  if (Deno.build.os !== "linux") return undefined;
  try {
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      let stat: string;
      try {
        stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      } catch {
        continue;
      }
      // Fields after the command name (which may hold spaces) start after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // rest[0] is the state, rest[2] the process group.
      if (Number(rest[2]) === pgid && rest[0] !== "Z") return true;
    }
    return false;
  } catch {
    return undefined;
  }
}

function spawnErrorMessage(opts: RunOptions, err: unknown): string {
  const e = err as Error;
  const as = opts.runAs
    ? ` as user ${opts.runAs.user} (uid ${opts.runAs.uid}, gid ${opts.runAs.gid})`
    : "";
  if (err instanceof Deno.errors.NotFound) {
    return `cannot start ${opts.executable}${as}: it (or its interpreter, or the folder ${opts.cwd}) does not exist`;
  }
  if (err instanceof Deno.errors.PermissionDenied) {
    return `cannot start ${opts.executable}${as}: permission denied` +
      (as
        ? `; that user needs to read and execute the score, search every folder above it, and enter ${opts.cwd}`
        : "");
  }
  return `cannot start ${opts.executable}${as}: ${e.message}`;
}

/**
 * When process `pid` started, in clock ticks since boot (Linux), to tell a
 * process from a later one that reuses its id; null where unknown.
 */
export function processStartTime(pid: number): string | null {
  if (Deno.build.os !== "linux") return null;
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // starttime is field 22; fields after the command name start at field 3.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * Stops the process group a score left behind when the player died, if
 * its leader is still the same process (same start time). Resolves true
 * when something was stopped.
 */
export async function stopLeftoverGroup(
  pid: number,
  startTime: string | null,
  graceMs: number,
): Promise<boolean> {
  const now = processStartTime(pid);
  // Another process has that id now: not ours.
  if (now !== null && now !== startTime) return false;
  // The leader is gone; its group may live on in the score's children (a
  // group id is not reused while a member remains, so such a group is ours).
  if (now === null && groupAlive(pid) !== true) return false;
  signalGroup(pid, "SIGTERM");
  signalGroup(pid, "SIGCONT");
  await raceGroup(pid, graceMs);
  if (groupAlive(pid) !== false) signalGroup(pid, "SIGKILL");
  return true;
}
