/**
 * The player: connects out to the conductor over mutual TLS, announces its
 * scores and its journal, runs what it is assigned, and delivers each
 * result until the conductor acknowledges it. It reconnects on its own,
 * with capped exponential backoff and jitter, whenever the conductor goes
 * away.
 *
 * @module
 */

import { errorMessage } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Address } from "../config/mod.ts";
import { processStartTime, SpawnError, stopLeftoverGroup } from "../exec/mod.ts";
import {
  type Assign,
  CONDUCTOR_TYPES,
  type ConductorMessage,
  ORCH_VERSION,
  type PlayerMessage,
  PROTOCOL_VERSION,
  type RejectCode,
  type ResultBody,
  type Welcome,
} from "../protocol/mod.ts";
import { type Catalog, checkParams, formatProblem, scanScores, scoreInfo } from "../score/mod.ts";
import type { Journal } from "../store/mod.ts";
import { connectMutualTls, Peer, type TlsMaterial } from "../tls/mod.ts";
import { Backoff } from "./backoff.ts";
import { INTERRUPT, runTask } from "./runner.ts";

/** What a player needs; configuration is adapted to this at the edge. */
export interface PlayerOptions {
  name: string;
  conductor: Address;
  /** The name the conductor's certificate must hold. */
  conductorName: string;
  tls: TlsMaterial;
  scoresDir: string;
  journal: Journal;
  slots: number;
  heartbeatMs: number;
  reconnectMaxMs: number;
  killGraceMs: number;
  maxFrame: number;
  log: Logger;
}

type Link = Peer<ConductorMessage, PlayerMessage>;

/** On stop, how long to wait for the conductor to acknowledge the last results. */
const ACK_WAIT_MS = 2000;

interface Running {
  abort: AbortController;
  done: Promise<void>;
}

/** Starts a player: recovers its journal, reads its scores, and begins connecting. */
export async function startPlayer(opts: PlayerOptions): Promise<Player> {
  const p = new Player(opts, await scanScores(opts.scoresDir));
  await p.recover();
  p.run();
  return p;
}

/** A running player. */
export class Player {
  readonly #opts: PlayerOptions;
  readonly #log: Logger;
  #catalog: Catalog;
  #link: Link | null = null;
  #welcomed = false;
  #conductorId: string | null = null;
  readonly #running = new Map<string, Running>();
  readonly #backoff: Backoff;
  #stopping = false;
  #wake: (() => void) | null = null;
  /** Called when the journal empties (every result acknowledged). */
  #onDrained: (() => void) | null = null;
  #loop: Promise<void> | null = null;

  constructor(opts: PlayerOptions, catalog: Catalog) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#catalog = catalog;
    this.#backoff = new Backoff(250, opts.reconnectMaxMs);
    this.#logCatalog();
  }

  #logCatalog(): void {
    for (const p of this.#catalog.problems) {
      if (p.severity === "error") {
        this.#log.warn("score not offered", { problem: formatProblem(p) });
      }
    }
    this.#log.info("scores read", {
      dir: this.#catalog.dir,
      scores: [...this.#catalog.scores.keys()].join(",") || "none",
    });
  }

  /**
   * Settles what a previous run of the player left in the journal: a task
   * that was running when the player died is stopped if it still runs, and
   * recorded as interrupted; its result is delivered like any other.
   */
  async recover(): Promise<void> {
    for (const t of this.#opts.journal.all()) {
      if (t.state !== "running") continue;
      const stopped = t.pid !== null &&
        await stopLeftoverGroup(t.pid, t.pidStart, this.#opts.killGraceMs);
      const now = Date.now();
      const result: ResultBody = {
        outcome: "interrupted",
        exit_code: null,
        signal: null,
        response: {},
        stdout_tail: "",
        stderr_tail: "",
        started_at: t.acceptedAt,
        ended_at: now,
        error: `the player stopped while the score ran${
          stopped ? "; its leftover processes were stopped" : ""
        }`,
      };
      this.#opts.journal.finish(t.taskId, t.attempt, result);
      this.#log.warn("task interrupted by a player restart", {
        task: t.taskId,
        attempt: t.attempt,
        stopped,
      });
    }
  }

  /** Connects, and reconnects whenever the connection ends, until stopped. */
  run(): void {
    this.#loop ??= (async () => {
      while (!this.#stopping) {
        await this.#session();
        if (this.#stopping) break;
        const delay = this.#backoff.next();
        this.#log.debug("reconnecting", { in_ms: delay });
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = null;
      }
    })();
  }

  /** One connection, from connect to close. */
  async #session(): Promise<void> {
    const o = this.#opts;
    let socket;
    try {
      socket = await connectMutualTls({
        host: o.conductor.host,
        port: o.conductor.port,
        expectName: o.conductorName,
        expectRole: "conductor",
        material: o.tls,
        timeoutMs: Math.max(5000, o.heartbeatMs),
      });
    } catch (err) {
      this.#log.warn("cannot reach the conductor", { error: errorMessage(err) });
      return;
    }
    if (this.#stopping) {
      socket.destroy();
      return;
    }
    await new Promise<void>((resolve) => {
      let refused = false;
      let welcomed = false;
      const link: Link = new Peer<ConductorMessage, PlayerMessage>(socket, {
        maxFrame: o.maxFrame,
        heartbeatMs: o.heartbeatMs,
        allowed: ["welcome", "refuse"],
        onMessage: (m) => {
          if (m.type === "refuse") {
            refused = true;
            this.#log.error("the conductor refused this player", {
              code: m.code,
              reason: m.message,
            });
            if (m.code === "forbidden") this.#backoff.max();
            link.close(`refused: ${m.message}`);
            return;
          }
          if (m.type === "welcome") welcomed = true;
          this.#onMessage(link, m);
        },
        onClose: (reason) => {
          if (this.#link === link) {
            this.#link = null;
            this.#welcomed = false;
          }
          if (refused) return resolve();
          if (this.#stopping) {
            this.#log.info("disconnected from the conductor", { reason });
            return resolve();
          }
          this.#log.warn("disconnected from the conductor", {
            reason,
            hint: welcomed
              ? undefined
              : "closed before the welcome: does the conductor accept this player's certificate (same CA)?",
          });
          resolve();
        },
      });
      this.#link = link;
      link.send({
        type: "hello",
        name: o.name,
        version: ORCH_VERSION,
        protocol: PROTOCOL_VERSION,
        slots: o.slots,
        scores: [...this.#catalog.scores.values()].map(scoreInfo),
        journal: o.journal.all().map((t) => ({
          task_id: t.taskId,
          attempt: t.attempt,
          conductor_id: t.conductorId,
          state: t.state,
        })),
      });
    });
  }

  #onMessage(link: Link, m: ConductorMessage): void {
    try {
      switch (m.type) {
        case "welcome":
          return this.#onWelcome(link, m);
        case "assign":
          return this.#onAssign(link, m);
        case "cancel": {
          const r = this.#running.get(`${m.task_id}/${m.attempt}`);
          if (r) {
            this.#log.info("cancelling a task", { task: m.task_id, attempt: m.attempt });
            r.abort.abort();
          }
          return;
        }
        case "result_ack":
          if (this.#opts.journal.remove(m.task_id, m.attempt)) {
            this.#log.debug("result acknowledged", { task: m.task_id, attempt: m.attempt });
          }
          if (this.#opts.journal.all().length === 0) this.#onDrained?.();
          return;
      }
    } catch (err) {
      this.#log.error("failed to handle a conductor message", {
        type: m.type,
        error: errorMessage(err),
      });
      link.close("internal error");
    }
  }

  #onWelcome(link: Link, w: Welcome): void {
    this.#conductorId = w.conductor_id;
    this.#welcomed = true;
    this.#backoff.reset();
    link.allow(CONDUCTOR_TYPES);
    const foreign = this.#opts.journal.dropForeign(w.conductor_id);
    if (foreign.length > 0) {
      this.#log.warn("dropped journal entries from another conductor database", {
        count: foreign.length,
      });
    }
    let resent = 0;
    for (const t of this.#opts.journal.all()) {
      if (t.state === "finished" && t.result) {
        link.send({ type: "result", task_id: t.taskId, attempt: t.attempt, ...t.result });
        resent++;
      }
    }
    this.#log.info("connected to the conductor", {
      conductor: `${this.#opts.conductor.host}:${this.#opts.conductor.port}`,
      running: this.#running.size,
      resent,
    });
    link.send({ type: "ready", slots: this.#stopping ? 0 : this.#opts.slots });
  }

  #reject(link: Link, a: Assign, code: RejectCode, message: string): void {
    this.#log.warn("refused a task", {
      task: a.task_id,
      job: a.job_id,
      score: a.score,
      code,
      reason: message,
    });
    link.send({ type: "reject", task_id: a.task_id, attempt: a.attempt, code, message });
  }

  #onAssign(link: Link, a: Assign): void {
    const key = `${a.task_id}/${a.attempt}`;
    const journal = this.#opts.journal;
    const known = journal.get(a.task_id, a.attempt);
    if (known) {
      // Assigned again (the conductor missed our accept): say again what we know.
      if (known.state === "running") {
        link.send({
          type: "accept",
          task_id: a.task_id,
          attempt: a.attempt,
          started_at: known.acceptedAt,
        });
      } else if (known.result) {
        link.send({ type: "result", task_id: a.task_id, attempt: a.attempt, ...known.result });
      }
      return;
    }
    if (this.#stopping) return this.#reject(link, a, "draining", "the player is shutting down");
    if (this.#running.size >= this.#opts.slots) {
      return this.#reject(link, a, "busy", `all ${this.#opts.slots} slots are in use`);
    }
    const score = this.#catalog.scores.get(a.score);
    if (!score) {
      return this.#reject(link, a, "unknown_score", `no score ${a.score} in ${this.#catalog.dir}`);
    }
    const check = checkParams(score.conf.params, a.params);
    if (!check.ok) return this.#reject(link, a, "bad_params", check.problems.join("; "));
    const cwd = score.conf.dir ?? this.#catalog.dir;
    try {
      const info = Deno.statSync(score.path);
      if (!info.isFile || ((info.mode ?? 0o111) & 0o111) === 0) {
        throw new Error("it is not an executable file");
      }
      if (!Deno.statSync(cwd).isDirectory) throw new Error(`${cwd} is not a directory`);
    } catch (err) {
      return this.#reject(link, a, "cannot_start", `${score.path}: ${errorMessage(err)}`);
    }

    journal.accept({
      taskId: a.task_id,
      attempt: a.attempt,
      conductorId: this.#conductorId!,
      jobId: a.job_id,
      score: a.score,
      acceptedAt: Date.now(),
    });
    const abort = new AbortController();
    const done = runTask({
      assign: a,
      score,
      params: check.values,
      player: this.#opts.name,
      cwd,
      killGraceMs: this.#opts.killGraceMs,
      signal: abort.signal,
      onSpawn: (pid) => {
        journal.setProcess(a.task_id, a.attempt, pid, processStartTime(pid));
        this.#link?.send({
          type: "accept",
          task_id: a.task_id,
          attempt: a.attempt,
          started_at: Date.now(),
        });
        this.#log.info("task started", {
          task: a.task_id,
          attempt: a.attempt,
          job: a.job_id,
          score: a.score,
          pid,
        });
      },
    }).then((result) => {
      journal.finish(a.task_id, a.attempt, result);
      this.#log.info("task finished", {
        task: a.task_id,
        attempt: a.attempt,
        outcome: result.outcome,
        exit: result.exit_code ?? result.signal ?? undefined,
        ms: result.ended_at - result.started_at,
      });
      if (this.#welcomed) {
        this.#link?.send({ type: "result", task_id: a.task_id, attempt: a.attempt, ...result });
      }
    }, (err) => {
      if (err instanceof SpawnError) {
        journal.remove(a.task_id, a.attempt);
        const l = this.#link;
        if (l) this.#reject(l, a, "cannot_start", err.message);
        return;
      }
      this.#log.error("task failed to run", { task: a.task_id, error: errorMessage(err) });
    }).finally(() => {
      this.#running.delete(key);
    });
    this.#running.set(key, { abort, done });
  }

  /** Reads the scores directory again and re-announces (by reconnecting); running tasks go on. */
  async rescan(): Promise<void> {
    this.#catalog = await scanScores(this.#opts.scoresDir);
    this.#logCatalog();
    this.#link?.close("re-announcing scores");
    this.#wake?.();
  }

  /**
   * Stops taking tasks, lets running ones finish for up to `graceMs`, then
   * stops them (they end interrupted), delivers what results it can, and
   * disconnects.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    if (this.#welcomed) this.#link?.send({ type: "ready", slots: 0 });
    const running = [...this.#running.values()];
    if (running.length > 0) {
      this.#log.info("waiting for running tasks", { count: running.length, grace_ms: graceMs });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const all = Promise.all(running.map((r) => r.done));
      const timedOut = await Promise.race([
        all.then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs))),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        for (const r of this.#running.values()) r.abort.abort(INTERRUPT);
        await all;
      }
    }
    // Give results just sent a moment to be acknowledged; what is not stays in the journal.
    if (this.#welcomed && this.#opts.journal.all().length > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ACK_WAIT_MS);
        this.#onDrained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.#link?.close("the player is stopping");
    this.#wake?.();
    await this.#loop;
    this.#opts.journal.close();
    this.#log.info("player stopped");
  }
}
