/**
 * Running real `orch` processes in tests: the command line, collected
 * output, waiting for a log line, and stopping.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * What runs `orch`: the source entry point, or another script (the bundle) when given, run by
 * this Deno; or an executable (a release's launcher or single file), run as it is.
 */
export function orchCommand(entry = join(ROOT, "main.ts")): string[] {
  if (!/\.[jt]s$/.test(entry)) return [entry];
  // A bundle needs no deno.json and no lockfile, as the release's launcher runs it.
  const bundled = entry.endsWith(".js") ? ["--no-config", "--no-lock"] : [];
  return [Deno.execPath(), "run", "--allow-all", ...bundled, "--quiet", "--no-prompt", entry];
}

/** The result of a finished `orch` run. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `orch args…` to its end. */
export async function orch(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; entry?: string; stdin?: string } = {},
): Promise<RunResult> {
  const [cmd, ...pre] = orchCommand(opts.entry);
  const child = new Deno.Command(cmd, {
    args: [...pre, ...args],
    cwd: opts.cwd,
    env: { NO_COLOR: "1", ...opts.env },
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A long-running `orch` process (a conductor or a player) whose log is collected. */
export class Proc {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly #waiters = new Set<() => void>();
  readonly exited: Promise<Deno.CommandStatus>;
  readonly name: string;
  #stdoutDone: Promise<void>;
  #stderrDone: Promise<void>;

  constructor(
    name: string,
    args: string[],
    opts: {
      cwd?: string;
      env?: Record<string, string>;
      entry?: string;
      wrap?: string[];
      /** Run as this user and group (the test runs as root). */
      uid?: number;
      gid?: number;
    } = {},
  ) {
    this.name = name;
    // `wrap` runs orch under another command, e.g. `ip netns exec NS`.
    const [cmd, ...pre] = [...(opts.wrap ?? []), ...orchCommand(opts.entry)];
    this.child = new Deno.Command(cmd, {
      args: [...pre, ...args],
      cwd: opts.cwd,
      env: { NO_COLOR: "1", ...opts.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      ...(opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.gid }),
    }).spawn();
    this.#stdoutDone = this.#collect(this.child.stdout);
    this.#stderrDone = this.#collect(this.child.stderr);
    this.exited = this.child.status;
  }

  async #collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    let partial = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      partial += chunk;
      const parts = partial.split("\n");
      partial = parts.pop()!;
      for (const line of parts) {
        this.lines.push(line);
        if (Deno.env.get("ORCH_TEST_LOG")) console.error(`[${this.name}] ${line}`);
      }
      for (const w of [...this.#waiters]) w();
    }
    if (partial) this.lines.push(partial);
    for (const w of [...this.#waiters]) w();
  }

  /** The whole log so far. */
  get log(): string {
    return this.lines.join("\n");
  }

  /** Waits for a log line matching `pattern` (after line `from`); returns its match. */
  waitFor(pattern: RegExp, timeoutMs = 15_000, from = 0): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      let done = false;
      const check = () => {
        if (done) return;
        for (let i = from; i < this.lines.length; i++) {
          const m = this.lines[i].match(pattern);
          if (m) {
            finish();
            resolve(m);
            return;
          }
        }
      };
      const finish = () => {
        done = true;
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(
            `${this.name}: no log line matching ${pattern} within ${timeoutMs}ms; log:\n${this.log}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.add(check);
      this.exited.then(() =>
        setTimeout(() => {
          if (done) return;
          check();
          if (done) return;
          finish();
          reject(new Error(`${this.name} exited before logging ${pattern}; log:\n${this.log}`));
        }, 50)
      );
      check();
    });
  }

  /** Sends a signal (ignored when the process is gone). */
  signal(sig: Deno.Signal): void {
    try {
      this.child.kill(sig);
    } catch {
      // already gone
    }
  }

  /** Stops the process: SIGTERM, SIGKILL after `graceMs`; resolves with its status. */
  async stop(graceMs = 5000): Promise<Deno.CommandStatus> {
    this.signal("SIGTERM");
    const timer = setTimeout(() => this.signal("SIGKILL"), graceMs);
    const status = await this.exited;
    clearTimeout(timer);
    await Promise.all([this.#stdoutDone, this.#stderrDone]);
    return status;
  }

  /** kill -9, and wait until it is gone. */
  async kill9(): Promise<void> {
    this.signal("SIGKILL");
    await this.exited;
    await Promise.all([this.#stdoutDone, this.#stderrDone]);
  }
}

/** Polls `fn` until it returns a value that is not undefined/false, or fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Ids of live processes whose environment holds `key=value` (Linux /proc). */
export function processesWithEnv(key: string, value: string): number[] {
  const needle = `${key}=${value}`;
  const found: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      const env = Deno.readTextFileSync(`/proc/${e.name}/environ`).split("\0");
      if (env.includes(needle)) found.push(Number(e.name));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/** A temp dir removed when disposed: `await using dir = await tempDir(); dir.path`. */
export async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "orch-test-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** Runs `fn` with a temp dir that is removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T> | T): Promise<T> {
  await using dir = await tempDir();
  return await fn(dir.path);
}
