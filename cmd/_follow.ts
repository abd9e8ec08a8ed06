/**
 * `--follow` and `--wait` progress: a job's live output printed line by
 * line as it arrives, each line prefixed by its host, and a progress line
 * while waiting, both driven by the conductor's event stream. Everything a
 * score or a player supplied goes through {@linkcode safe}.
 *
 * @module
 */

import { formatDuration } from "../lib/config/units.ts";
import { OrchError } from "../lib/errors.ts";
import {
  type AudienceClient,
  type AudienceEvent,
  type OutputEvent,
  type OutputPiece,
  OutputTracker,
  type ProgressEvent,
  type TaskEvent,
} from "../lib/client/mod.ts";
import {
  isFinal,
  type JobViewJson as JobView,
  type TaskState,
  type TaskViewJson as TaskView,
  timeMs,
} from "../lib/protocol/mod.ts";
import { err, EXIT, exitState, out, waitForJob } from "./_common.ts";
import { jobExit, printJob, type ShowOptions } from "./_format.ts";
import { safe } from "./_safe.ts";

/**
 * Host colours (256-colour palette): mid-tones that read on dark and on
 * light backgrounds alike (no yellow, no pale or very dark shades).
 */
const PALETTE = [31, 130, 28, 127, 25, 166, 30, 91, 124, 64, 61, 136] as const;

/** True when output to a terminal may be coloured: a TTY, and `NO_COLOR` unset or empty. */
export function colourEnabled(isTerminal: boolean, noColor: string | undefined): boolean {
  return isTerminal && (noColor === undefined || noColor === "");
}

/** The colour of host `name`: the same for a name in every run (FNV-1a of its bytes). */
export function hostColour(name: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(name)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return PALETTE[h % PALETTE.length];
}

/** Longest line kept while waiting for its end; a longer one is printed in parts. */
export const MAX_PENDING_LINE = 64 << 10;

/**
 * Assembles lines from pieces of output, per stream: a piece may end in
 * the middle of a line; the rest waits for the next piece or for
 * {@linkcode LineAssembler.flush}.
 */
export class LineAssembler {
  readonly #partial = new Map<string, string>();

  /** The complete lines `text` ends on stream `key` (without their newlines). */
  feed(key: string, text: string): string[] {
    const all = (this.#partial.get(key) ?? "") + text;
    const lines = all.split("\n");
    let rest = lines.pop()!;
    while (rest.length > MAX_PENDING_LINE) {
      lines.push(rest.slice(0, MAX_PENDING_LINE));
      rest = rest.slice(MAX_PENDING_LINE);
    }
    if (rest === "") this.#partial.delete(key);
    else this.#partial.set(key, rest);
    return lines;
  }

  /** The partial line left on stream `key` (none: null), forgotten. */
  flush(key: string): string | null {
    const rest = this.#partial.get(key);
    this.#partial.delete(key);
    return rest ?? null;
  }
}

/** How a finished task reads: `succeeded, exit 0, 3.2s`, or its state and why. */
export function taskEndText(state: string, t: TaskView | null, why?: string): string {
  const parts = [safe(state)];
  if (t?.signal) parts.push(`signal ${safe(t.signal)}`);
  else if (t?.exit_code !== null && t?.exit_code !== undefined) parts.push(`exit ${t.exit_code}`);
  if (t && t.started_at !== null && t.ended_at !== null) {
    parts.push(formatDuration(timeMs(t.ended_at) - timeMs(t.started_at)));
  }
  const reason = why ?? t?.reason ?? null;
  const text = parts.join(", ");
  return reason && state !== "succeeded" ? `${text} (${safe(reason)})` : text;
}

/**
 * Turns a job's events into the lines `--follow` prints: `host | line` for
 * stdout, `host ! line` for stderr, a marker where bytes were missed, and
 * `host: succeeded, exit 0, 3.2s` when a task ends.
 */
export class FollowPrinter {
  readonly #lines = new LineAssembler();
  readonly #tracker = new OutputTracker();
  readonly #colour: boolean;
  #width = 0;

  constructor(opts: { colour: boolean; hosts?: string[] }) {
    this.#colour = opts.colour;
    for (const h of opts.hosts ?? []) this.#widen(h);
  }

  #widen(host: string): void {
    this.#width = Math.min(24, Math.max(this.#width, safe(host).length));
  }

  #prefix(host: string, mark: string): string {
    const name = safe(host).padEnd(this.#width);
    return this.#colour
      ? `\x1b[38;5;${hostColour(host)}m${name} ${mark}\x1b[0m `
      : `${name} ${mark} `;
  }

  /** The lines a piece of output (of task `task`, attempt `attempt`, on `host`) completes. */
  output(task: number, attempt: number, host: string, p: OutputPiece): string[] {
    const fresh = this.#tracker.take(task, attempt, p);
    const mark = p.stream === "stdout" ? "|" : "!";
    const key = `${task}/${attempt}/${p.stream}`;
    const lines: string[] = [];
    if (fresh.missed > 0) {
      const rest = this.#lines.flush(key);
      if (rest !== null) lines.push(this.#prefix(host, mark) + safe(rest));
      lines.push(`${this.#prefix(host, mark)}[… ${fresh.missed} bytes not shown …]`);
    }
    for (const l of this.#lines.feed(key, fresh.data)) {
      lines.push(this.#prefix(host, mark) + safe(l));
    }
    return lines;
  }

  /** The lines a task's end prints: what is left of its lines, then how it ended. */
  taskEnd(ev: TaskEvent, detail: TaskView | null): string[] {
    const lines: string[] = [];
    const host = ev.host ?? `task ${ev.task}`;
    for (const [stream, mark] of [["stdout", "|"], ["stderr", "!"]] as const) {
      const rest = this.#lines.flush(`${ev.task}/${ev.attempt}/${stream}`);
      if (rest !== null) lines.push(this.#prefix(host, mark) + safe(rest));
    }
    const name = safe(host);
    const label = this.#colour ? `\x1b[38;5;${hostColour(host)}m${name}:\x1b[0m` : `${name}:`;
    lines.push(`${label} ${taskEndText(ev.state, detail, ev.why)}`);
    return lines;
  }

  /** The lines one event prints (a final task event: without its details, see {@linkcode taskEnd}). */
  event(ev: AudienceEvent): string[] {
    switch (ev.type) {
      case "snapshot": {
        for (const h of ev.job?.hosts ?? []) this.#widen(h);
        const lines: string[] = [];
        for (const t of ev.live) {
          this.#widen(t.host);
          for (const p of t.pieces) lines.push(...this.output(t.task, t.attempt, t.host, p));
        }
        return lines;
      }
      case "output":
        this.#widen(ev.host);
        return this.output(ev.task, ev.attempt, ev.host, ev as OutputEvent);
      case "task":
        return isFinal(ev.state) ? this.taskEnd(ev, null) : [];
      default:
        return [];
    }
  }
}

/** A progress line: `3/10 done, 2 running, 4 queued (1 for offline hosts), 12s`. */
export function progressText(p: ProgressEvent, elapsedMs: number | null): string {
  const c = p.counts;
  const running = (c.running ?? 0) + (c.assigned ?? 0);
  const parts = [`job ${p.job}: ${p.done}/${p.total} done`, `${running} running`];
  const queued = c.queued ?? 0;
  parts.push(
    p.offline > 0 ? `${queued} queued (${p.offline} for offline hosts)` : `${queued} queued`,
  );
  if (elapsedMs !== null) parts.push(formatDuration(Math.max(0, elapsedMs)));
  return parts.join(", ");
}

/**
 * Shows `--wait` progress on stderr: on a terminal, one line redrawn in
 * place (and its elapsed time each second), cleared by
 * {@linkcode ProgressReporter.clear}; otherwise one line per change, at
 * most one a second.
 */
export class ProgressReporter {
  readonly #tty: boolean;
  readonly #write: (text: string) => void;
  readonly #now: () => number;
  readonly #since: number;
  #last: ProgressEvent | null = null;
  #shown = "";
  #shownAt = -Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    opts: { tty: boolean; write: (text: string) => void; now: () => number; since: number },
  ) {
    this.#tty = opts.tty;
    this.#write = opts.write;
    this.#now = opts.now;
    this.#since = opts.since;
  }

  /** Takes the job's latest counts. */
  update(p: ProgressEvent): void {
    this.#last = p;
    if (this.#tty) {
      this.#draw();
      this.#timer ??= setInterval(() => this.#draw(), 1000);
      return;
    }
    const text = progressText(p, null);
    if (text === this.#shown) return;
    const wait = this.#shownAt + 1000 - this.#now();
    if (wait <= 0) this.#line();
    else this.#timer ??= setTimeout(() => this.#line(), wait);
  }

  #draw(): void {
    if (!this.#last) return;
    this.#write(`\r\x1b[2K${progressText(this.#last, this.#now() - this.#since)}`);
  }

  #line(): void {
    this.#timer = undefined;
    if (!this.#last) return;
    const text = progressText(this.#last, null);
    if (text === this.#shown) return;
    this.#shown = text;
    this.#shownAt = this.#now();
    this.#write(`orch: ${progressText(this.#last, this.#now() - this.#since)}\n`);
  }

  /** Stops: clears the line on a terminal; otherwise prints a change not shown yet. */
  clear(): void {
    if (this.#tty) {
      clearInterval(this.#timer);
      if (this.#last) this.#write("\r\x1b[2K");
    } else {
      clearTimeout(this.#timer);
      this.#line();
    }
    this.#timer = undefined;
  }
}

const encoder = new TextEncoder();

function writeErr(text: string): void {
  try {
    Deno.stderr.writeSync(encoder.encode(text));
  } catch {
    // nobody is reading stderr
  }
}

/** Aborted on Ctrl-C (SIGINT); `stop()` removes the handler. */
function interrupt(): { signal: AbortSignal; stop: () => void } {
  const ctl = new AbortController();
  const onInt = () => ctl.abort();
  Deno.addSignalListener("SIGINT", onInt);
  return { signal: ctl.signal, stop: () => Deno.removeSignalListener("SIGINT", onInt) };
}

/** True when `e` says the conductor does not serve the events route (an older conductor). */
async function eventsUnserved(client: AudienceClient, id: number, e: unknown): Promise<boolean> {
  if (!(e instanceof OrchError) || e.code !== "not_found") return false;
  await client.job(id); // throws the job's own not_found when there is no such job
  return true;
}

/** Most finished tasks whose exit and duration `--follow` asks for; later ones print their state. */
const MAX_DETAILS = 1000;

/**
 * `--follow`: prints job `id`'s output as it arrives, then its outcome as
 * `--wait` does, and sets the exit status by its aggregate (pending when
 * `timeoutMs` ran out or Ctrl-C stopped following).
 */
export async function followJob(
  client: AudienceClient,
  id: number,
  opts: { timeoutMs: number | null; json?: boolean; show: ShowOptions },
): Promise<void> {
  const first = await client.job(id);
  if (first.finished_at !== null) {
    if (opts.json) {
      out(
        JSON.stringify({
          type: "end",
          id: null,
          job: id,
          aggregate: first.aggregate,
          finished_at: first.finished_at,
        }),
      );
    } else await printJob(client, first, opts.show);
    exitState.code = jobExit(first);
    return;
  }
  const printer = new FollowPrinter({
    colour: colourEnabled(Deno.stdout.isTerminal(), Deno.env.get("NO_COLOR")),
    hosts: first.hosts,
  });
  const int = interrupt();
  let ended = false;
  let details = 0;
  try {
    for await (
      const ev of client.events(id, {
        timeoutMs: opts.timeoutMs,
        signal: int.signal,
        onRetry: (e) => err(`orch: ${safe(e.message)}; retrying`),
      })
    ) {
      if (ev.type === "end") ended = true;
      if (opts.json) {
        const { raw, ...rest } = ev as AudienceEvent & { raw?: Record<string, unknown> };
        out(JSON.stringify(raw ? { type: ev.type, id: ev.id, ...raw } : rest));
        continue;
      }
      if (ev.type === "task" && isFinal(ev.state)) {
        const detail = details++ < MAX_DETAILS
          ? await client.task(id, ev.task).catch(() => null)
          : null;
        for (const l of printer.taskEnd(ev, detail)) out(l);
        continue;
      }
      for (const l of printer.event(ev)) out(l);
    }
  } catch (e) {
    if (!(await eventsUnserved(client, id, e))) throw e;
    err("orch: the conductor does not serve events; waiting without live output");
    const job = await waitForJob(client, id, opts.timeoutMs);
    if (!opts.json) await printJob(client, job, opts.show);
    exitState.code = jobExit(job);
    return;
  } finally {
    int.stop();
  }
  if (int.signal.aborted) {
    err(`orch: stopped following job ${id}; it goes on (see: orch status ${id})`);
    exitState.code = EXIT.pending;
    return;
  }
  const job = await client.job(id);
  if (!opts.json) {
    out("");
    await printJob(client, job, opts.show);
  }
  exitState.code = ended || job.finished_at !== null ? jobExit(job) : EXIT.pending;
}

/**
 * `--wait`: waits for job `id` to finish, showing its progress on stderr
 * from the event stream (a conductor without one: a plain long-poll wait);
 * resolves with the job as it is at the end or when `timeoutMs` ran out.
 */
export async function waitWithProgress(
  client: AudienceClient,
  id: number,
  timeoutMs: number | null,
): Promise<JobView> {
  const deadline = timeoutMs === null ? null : Date.now() + timeoutMs;
  const first = await client.job(id);
  if (first.finished_at !== null) return first;
  const progress = new ProgressReporter({
    tty: Deno.stderr.isTerminal(),
    write: writeErr,
    now: Date.now,
    since: timeMs(first.submitted_at),
  });
  try {
    for await (
      const ev of client.events(id, {
        timeoutMs,
        onRetry: (e) => err(`orch: ${safe(e.message)}; retrying`),
      })
    ) {
      if (ev.type === "progress") progress.update(ev);
    }
  } catch (e) {
    progress.clear();
    if (!(await eventsUnserved(client, id, e))) throw e;
    return await waitForJob(
      client,
      id,
      deadline === null ? null : Math.max(0, deadline - Date.now()),
    );
  }
  const job = await client.job(id);
  if (job.finished_at !== null) progress.update(progressOfJob(job));
  progress.clear();
  return job;
}

/** A job view's counts as a progress event (the last one, after the stream's end). */
export function progressOfJob(job: JobView): ProgressEvent {
  let done = 0;
  for (const [state, n] of Object.entries(job.counts)) {
    if (isFinal(state as TaskState)) done += n ?? 0;
  }
  return {
    type: "progress",
    id: null,
    job: job.id,
    total: job.task_count,
    done,
    counts: job.counts,
    offline: job.offline,
    aggregate: job.aggregate,
  };
}
