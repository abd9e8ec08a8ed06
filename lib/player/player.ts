/**
 * The player: connects out to the conductor over mutual TLS, announces its
 * scores and its journal, runs what it is assigned, and delivers each
 * result until the conductor acknowledges it. It reconnects on its own
 * whenever the conductor goes away: given several conductors, it dials them
 * in order, moving to the next on a failure, a disconnect or a "not the
 * leader" refusal (straight to the leader that refusal names), and waits a
 * capped, jittered, exponentially growing time after each full round. A
 * conductor that stops on purpose says when to dial again (`reconnect`):
 * then the player waits that instead, and retries at the short interval it
 * was given, for a bounded time, rather than backing off.
 *
 * @module
 */

import { errorMessage } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type Address, formatAddress } from "../config/mod.ts";
import {
  accountProblem,
  closeInheritedFds,
  processStartTime,
  resolveAccount,
  type RunAs,
  SpawnError,
  stopLeftoverGroup,
  userName,
} from "../exec/mod.ts";
import {
  type Assign,
  clip,
  CONDUCTOR_TYPES,
  type ConductorMessage,
  formatRange,
  LIMITS,
  ORCH_VERSION,
  parseConductorAddress,
  type PlayerMessage,
  PROTOCOL_MINOR,
  PROTOCOL_RANGE,
  PROTOCOL_VERSION,
  type RejectCode,
  type ResultBody,
  type Welcome,
} from "../protocol/mod.ts";
import { type Catalog, checkParams, formatProblem, scanScores, scoreInfo } from "../score/mod.ts";
import type { Journal, JournalKey } from "../store/mod.ts";
import { ConnectError, connectMutualTls, Peer, type TlsMaterial } from "../tls/mod.ts";
import { Backoff } from "./backoff.ts";
import { DialPlan, type Notice, type SessionEnd } from "./_dial_plan.ts";
import { RepeatFilter } from "./repeats.ts";
import { LiveOutput } from "./live.ts";
// Loaded only when metrics are served (see serveMetrics): the Prometheus library is not small.
import type { PlayerMetrics } from "./metrics.ts";
import type { MetricsServer } from "../metrics/server.ts";
import { emptyResult, failedResult, INTERRUPT, runTask, sendableResult } from "./runner.ts";

/** Live output waits while more than this is queued on the link (heartbeats and results go first). */
const LIVE_BACKLOG = 256 << 10;
/** A partial line of live output waits at most this long before it is sent. */
const LIVE_FLUSH_MS = 200;

/** What a player needs; configuration is adapted to this at the edge. */
export interface PlayerOptions {
  name: string;
  /** The conductors' addresses, dialled in order (at least one). */
  conductors: readonly Address[];
  /** The name every conductor's certificate must hold; "" for the host of each address dialled. */
  conductorName: string;
  tls: TlsMaterial;
  scoresDir: string;
  journal: Journal;
  slots: number;
  heartbeatMs: number;
  reconnectMaxMs: number;
  killGraceMs: number;
  /** Bytes a second of a running score's output streamed to the conductor; 0: none. */
  liveOutputRate: number;
  /** Bytes of the start, and of the end, of each stream of a score's output kept (default 16 KiB). */
  outputHead?: number;
  outputTail?: number;
  maxFrame: number;
  log: Logger;
  /** What it reports of its host in each hello (see `facts.ts`); none when left out. */
  facts?: Record<string, string>;
  /** The Prometheus metrics listener (plain HTTP), or null/absent for none. */
  metricsListen?: Address | null;
}

type Link = Peer<ConductorMessage, PlayerMessage>;

/** On stop, how long to wait for the conductor to acknowledge the last results. */
const ACK_WAIT_MS = 2000;
/** Conductors whose last leaving line is remembered (to log repeats at debug) at most. */
const LAST_LEFT_MAX = 64;

interface Running {
  abort: AbortController;
  done: Promise<void>;
  key: JournalKey;
}

/** Longest reason sent with a reject (the protocol allows 4096 bytes). */
const MAX_MESSAGE = 1000;

function keyText(k: JournalKey): string {
  return `${k.conductorId}/${k.taskId}/${k.attempt}`;
}

/** Starts a player: recovers its journal, reads its scores, and begins connecting. */
export async function startPlayer(opts: PlayerOptions): Promise<Player> {
  // Scores get only fds 0-2: whatever this process inherited stays here.
  const sweep = closeInheritedFds();
  if (sweep.how === "none" || sweep.leaked.length > 0) {
    opts.log.warn("inherited file descriptors may reach scores", {
      fds: sweep.leaked.join(",") || "unknown",
      error: sweep.error ?? undefined,
    });
  } else opts.log.debug("inherited file descriptors closed for scores", { how: sweep.how });
  const p = new Player(opts, await scanScores(opts.scoresDir, { accountProblem }));
  if (opts.metricsListen) await p.serveMetrics(opts.metricsListen);
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
  /** The conductor being dialled or talked to. */
  #target: Address;
  /** The last line logged on leaving each conductor, so a retry storm logs each once. */
  readonly #lastLeft = new RepeatFilter(LAST_LEFT_MAX);
  #welcomed = false;
  #conductorId: string | null = null;
  /** The protocol minor the conductor speaks (from its welcome). */
  #conductorMinor = 0;
  readonly #running = new Map<string, Running>();
  readonly #backoff: Backoff;
  readonly #random: () => number = Math.random;
  #stopping = false;
  #wake: (() => void) | null = null;
  /** Called when the journal empties (every result acknowledged). */
  #onDrained: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  #metrics: PlayerMetrics | null = null;
  #metricsServer: MetricsServer | null = null;
  /** Live output of each run, for the bytes it dropped (metrics). */
  readonly #lives = new Map<string, LiveOutput>();

  constructor(opts: PlayerOptions, catalog: Catalog) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#catalog = catalog;
    this.#backoff = new Backoff(250, opts.reconnectMaxMs, this.#random);
    if (opts.conductors.length === 0) throw new RangeError("a player needs a conductor address");
    this.#target = opts.conductors[0];
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
      const why = `the player stopped while the score ran${
        stopped ? "; its leftover processes were stopped" : ""
      }`;
      this.#opts.journal.finish(t, emptyResult("interrupted", why, t.acceptedAt));
      this.#log.warn("task interrupted by a player restart", {
        task: t.taskId,
        attempt: t.attempt,
        stopped,
      });
    }
  }

  /**
   * Connects, and reconnects whenever the connection ends, until stopped:
   * where to and when as `_dial_plan.ts` decides (in order, moving on at
   * once, to the leader a "not the leader" refusal names, with a backoff
   * after each full round, or the interval a conductor's notice gave). A
   * named leader's certificate is checked as any conductor's, so a named
   * address is no more trusted than a listed one.
   */
  run(): void {
    this.#loop ??= (async () => {
      const plan = new DialPlan(this.#opts.conductors, this.#backoff, this.#random);
      while (!this.#stopping) {
        const target = plan.target();
        const dialled = performance.now();
        const end = await this.#session(target);
        if (end.kind === "stopping" || this.#stopping) break;
        const step = plan.after(target, end, performance.now() - dialled);
        // The repeated leaving lines start over once a connection lasted.
        if (step.stable) this.#lastLeft.clear();
        if (step.notice !== null) {
          this.#log.info("the conductor is stopping and asked this player to reconnect", {
            conductor: formatAddress(target),
            in_ms: step.notice.delayMs,
            retry_ms: step.notice.retryMs,
            next: formatAddress(step.next),
          });
          await this.#pause(step.notice.delayMs);
          continue;
        }
        this.#logLeaving(target, end, step.wait === null ? step.next : null, step.noticed);
        if (step.wait === null) continue;
        this.#log.debug("reconnecting", {
          in_ms: step.wait.ms,
          conductor: formatAddress(step.next),
          wait: step.wait.why,
          cap_ms: step.wait.why === "notice" ? undefined : step.wait.capMs,
        });
        await this.#pause(step.wait.ms);
      }
    })();
  }

  /** Waits `ms`, or less when the player stops or rescans meanwhile. */
  async #pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wake = null;
  }

  /**
   * Logs why this player left conductor `from` and where it goes next (null:
   * it waits a backoff first): one line per move, at warn (error for a
   * refusal), or at debug when it repeats what was last logged on leaving
   * `from` (a welcome clears that), but for a reminder with the count of
   * repeats every 10 minutes. While a conductor's notice holds (`noticed`),
   * what a planned restart looks like is expected, and logged at debug only:
   * no conductor there, a standby that does not lead yet, a connection
   * closed before its welcome.
   */
  #logLeaving(from: Address, end: SessionEnd, next: Address | null, noticed: boolean): void {
    if (end.kind === "stopping") return;
    const conductor = formatAddress(from);
    const to = next === null ? undefined : formatAddress(next);
    let msg: string;
    let fields: Record<string, string | undefined>;
    let refused = false;
    if (end.kind === "unreachable") {
      refused = end.refused;
      msg = refused ? "the conductor's certificate is not accepted" : "cannot reach the conductor";
      fields = { conductor, error: end.why, hint: end.hint };
    } else if (end.kind === "closed") {
      msg = "disconnected from the conductor";
      fields = {
        conductor,
        reason: end.why,
        hint: end.welcomed
          ? undefined
          : "closed before the welcome: does the conductor accept this player's certificate (same CA)?",
      };
    } else if (end.code === "not_leader") {
      msg = "the conductor is not the leader";
      fields = {
        conductor,
        leader: end.leader ? formatAddress(end.leader) : "unknown",
        reason: end.why,
      };
    } else {
      refused = true;
      msg = "the conductor refused this player";
      fields = { conductor, code: end.code, reason: end.why };
    }
    // What a planned restart looks like: nobody there (nothing listening, no route, no answer),
    // a close before the welcome, a standby not leading yet. A certificate refused is not.
    const expected = end.kind === "unreachable"
      ? end.down && !end.refused
      : end.kind === "closed"
      ? !end.welcomed
      : end.code === "not_leader";
    if (noticed && expected) {
      this.#log.debug(msg, { ...fields, next: to });
      return;
    }
    const seen = this.#lastLeft.note(conductor, `${msg} ${JSON.stringify(fields)}`);
    const level = !seen.show ? "debug" : refused ? "error" : "warn";
    this.#log[level](msg, {
      ...fields,
      next: to,
      repeated: seen.show && seen.repeats > 0 ? seen.repeats : undefined,
    });
  }

  /** One connection to `target`, from connect to close. */
  async #session(target: Address): Promise<SessionEnd> {
    const o = this.#opts;
    this.#target = target;
    let socket;
    try {
      socket = await connectMutualTls({
        host: target.host,
        port: target.port,
        expectName: o.conductorName || target.host,
        expectRole: "conductor",
        material: o.tls,
        timeoutMs: Math.max(5000, o.heartbeatMs),
      });
    } catch (err) {
      const c = err instanceof ConnectError ? err : null;
      return {
        kind: "unreachable",
        why: errorMessage(err),
        down: c?.down ?? false,
        refused: c?.code === "forbidden",
        hint: c?.hint,
      };
    }
    if (this.#stopping) {
      socket.destroy();
      return { kind: "stopping" };
    }
    return await new Promise<SessionEnd>((resolve) => {
      let refused: SessionEnd | null = null;
      let welcomed = false;
      let notice: Notice | undefined;
      const link: Link = new Peer<ConductorMessage, PlayerMessage>(socket, {
        maxFrame: o.maxFrame,
        heartbeatMs: o.heartbeatMs,
        allowed: ["welcome", "refuse"],
        onMessage: (m) => {
          if (m.type === "refuse") {
            const leader = m.leader === undefined ? null : parseConductorAddress(m.leader);
            refused = {
              kind: "refused",
              code: m.code,
              why: m.message,
              leader,
              retryMs: m.retry_ms ?? null,
            };
            link.close(`refused: ${m.message}`);
            return;
          }
          if (m.type === "reconnect") {
            notice = { delayMs: m.delay_ms, retryMs: m.retry_ms };
            return;
          }
          if (m.type === "welcome") {
            welcomed = true;
            this.#metrics?.connected();
          }
          this.#onMessage(link, m);
        },
        onUnknownType: (type) =>
          this.#log.warn("ignored a message of a type this player does not know", { type }),
        onClose: (reason) => {
          if (this.#link === link) {
            this.#link = null;
            this.#welcomed = false;
          }
          if (refused) return resolve(refused);
          if (this.#stopping) {
            this.#log.info("disconnected from the conductor", { reason });
            return resolve({ kind: "stopping" });
          }
          resolve({ kind: "closed", why: reason, welcomed, notice });
        },
      });
      this.#link = link;
      link.send({
        type: "hello",
        name: o.name,
        version: ORCH_VERSION,
        protocol: PROTOCOL_VERSION,
        protocols: PROTOCOL_RANGE,
        minor: PROTOCOL_MINOR,
        slots: o.slots,
        ...(o.facts ? { facts: o.facts } : {}),
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
          const r = this.#running.get(keyText(this.#key(m.task_id, m.attempt)));
          if (r) {
            this.#log.info("cancelling a task", { task: m.task_id, attempt: m.attempt });
            r.abort.abort();
          }
          return;
        }
        case "result_ack":
          if (this.#opts.journal.remove(this.#key(m.task_id, m.attempt))) {
            this.#log.debug("result acknowledged", { task: m.task_id, attempt: m.attempt });
          }
          // Only a stopping player waits for its journal to empty; others need not read it.
          if (this.#onDrained && this.#opts.journal.all().length === 0) this.#onDrained();
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
    if (w.protocol < PROTOCOL_RANGE.min || w.protocol > PROTOCOL_RANGE.max) {
      this.#log.error("the conductor chose a protocol version this player does not speak", {
        chosen: w.protocol,
        speaks: formatRange(PROTOCOL_RANGE),
      });
      link.close(`protocol version ${w.protocol} is not one this player speaks`);
      return;
    }
    this.#conductorId = w.conductor_id;
    this.#conductorMinor = w.minor ?? 0;
    this.#welcomed = true;
    link.allow(CONDUCTOR_TYPES);
    const foreign = this.#opts.journal.dropForeign(w.conductor_id);
    if (foreign.length > 0) {
      this.#log.warn("dropped journal entries from another conductor database", {
        count: foreign.length,
      });
    }
    // Runs for another conductor database have nobody to report to: stop them.
    for (const r of this.#running.values()) {
      if (r.key.conductorId !== w.conductor_id) r.abort.abort(INTERRUPT);
    }
    let resent = 0;
    for (const t of this.#opts.journal.all()) {
      if (t.state === "finished" && t.result) {
        link.send({ type: "result", task_id: t.taskId, attempt: t.attempt, ...t.result });
        resent++;
      }
    }
    this.#log.info("connected to the conductor", {
      conductor: formatAddress(this.#target),
      protocol: `${w.protocol}.${w.minor ?? 0}`,
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
      // Parameter problems quote values, which are never logged; orch status shows them.
      reason: code === "bad_params" ? undefined : message,
    });
    link.send({
      type: "reject",
      task_id: a.task_id,
      attempt: a.attempt,
      code,
      message: clip(message, MAX_MESSAGE),
    });
  }

  #onAssign(link: Link, a: Assign): void {
    const key = this.#key(a.task_id, a.attempt);
    const journal = this.#opts.journal;
    const known = journal.get(key);
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
    const check = checkParams(score.conf.params, a.params, a.secret);
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
    const runAs = this.#runAs(score.name, score.conf.user, score.conf.group);
    if (typeof runAs === "string") return this.#reject(link, a, "cannot_start", runAs);

    journal.accept({ ...key, jobId: a.job_id, score: a.score, acceptedAt: Date.now() });
    const abort = new AbortController();
    const fields = { task: a.task_id, attempt: a.attempt, job: a.job_id, score: a.score };
    const done = runTask({
      assign: a,
      score,
      params: check.values,
      player: this.#opts.name,
      cwd,
      killGraceMs: this.#opts.killGraceMs,
      outputHead: this.#opts.outputHead ?? LIMITS.defaultOutputBytes,
      outputTail: this.#opts.outputTail ?? LIMITS.defaultOutputBytes,
      signal: abort.signal,
      runAs,
      live: (secrets) => this.#liveOutput(key, secrets),
      onSpawn: (pid) => {
        journal.setProcess(key, pid, processStartTime(pid));
        this.#sendFor(key, {
          type: "accept",
          task_id: a.task_id,
          attempt: a.attempt,
          started_at: Date.now(),
        });
        this.#log.info("task started", { ...fields, pid });
      },
    }).then(
      (result) => this.#finished(key, result),
      (err) => {
        if (err instanceof SpawnError) {
          journal.remove(key);
          this.#log.warn("refused a task", {
            ...fields,
            code: "cannot_start",
            reason: err.message,
          });
          this.#sendFor(key, {
            type: "reject",
            task_id: a.task_id,
            attempt: a.attempt,
            code: "cannot_start",
            message: clip(err.message, MAX_MESSAGE),
          });
          return;
        }
        // Started, then failed inside orch (the journal could not be written, say): report what is known.
        this.#log.error("task failed to run", { ...fields, error: errorMessage(err) });
        this.#finished(key, failedResult(`orch could not run it: ${errorMessage(err)}`));
      },
    ).finally(() => {
      this.#running.delete(keyText(key));
      const live = this.#lives.get(keyText(key));
      this.#lives.delete(keyText(key));
      if (live) this.#metrics?.liveDropped(live.dropped);
      // A slot is free: the conductor may have held back after a busy refusal.
      if (this.#welcomed && !this.#stopping) {
        this.#link?.send({ type: "ready", slots: this.#opts.slots });
      }
    });
    this.#running.set(keyText(key), { abort, done, key });
  }

  /**
   * Who a score runs as: null for this player's own user, the account to
   * switch to (this player runs as root), or why it cannot run here. A
   * player that is not root never runs as itself a score that names
   * another user.
   */
  #runAs(score: string, user: string | null, group: string | null): RunAs | null | string {
    if (user === null) return null;
    const account = resolveAccount(user, group);
    if (typeof account === "string") return `score ${score} runs as user ${user}: ${account}`;
    const uid = Deno.uid();
    if (uid === 0) return account;
    if (account.uid === uid && (group === null || account.gid === Deno.gid())) return null;
    const me = uid === null ? "an unknown user" : userName(uid);
    const who = group === null ? `user ${user}` : `user ${user} and group ${group}`;
    return `score ${score} runs as ${who}; this player runs as ${me}, not root, ` +
      "and cannot switch users";
  }

  /**
   * A run's live output stream, sent while the conductor that assigned it is
   * connected and speaks protocol minor 3; null when live output is off.
   */
  #liveOutput(key: JournalKey, secrets: readonly string[]): LiveOutput | null {
    const rate = this.#opts.liveOutputRate;
    if (rate <= 0) return null;
    const metrics = this.#metrics;
    const live = new LiveOutput({
      taskId: key.taskId,
      attempt: key.attempt,
      rate,
      burst: rate * 2,
      flushMs: LIVE_FLUSH_MS,
      secrets,
      ready: () => (this.#link?.backlog ?? Infinity) < LIVE_BACKLOG,
      send: (m) => {
        const sent = this.#welcomed && this.#conductorMinor >= 3 &&
          this.#conductorId === key.conductorId && (this.#link?.send(m) ?? false);
        if (sent) metrics?.liveSent(m.bytes);
        return sent;
      },
    });
    if (metrics) this.#lives.set(keyText(key), live);
    return live;
  }

  /** Records a run's result in the journal, then sends it if the conductor that asked for it is here. */
  #finished(key: JournalKey, raw: ResultBody): void {
    const result = sendableResult(raw, key.taskId, key.attempt);
    let kept = false;
    try {
      kept = this.#opts.journal.finish(key, result);
    } catch (err) {
      this.#log.error("cannot write a result to the journal", {
        task: key.taskId,
        error: errorMessage(err),
      });
    }
    this.#metrics?.finished(
      this.#opts.journal.get(key)?.score ?? "unknown",
      result.outcome,
      (result.ended_at - result.started_at) / 1000,
    );
    this.#log.info("task finished", {
      task: key.taskId,
      attempt: key.attempt,
      outcome: result.outcome,
      exit: result.exit_code ?? result.signal ?? undefined,
      ms: result.ended_at - result.started_at,
    });
    if (!kept) {
      this.#log.warn("result dropped: its task belongs to another conductor database", {
        task: key.taskId,
      });
      return;
    }
    this.#sendFor(key, { type: "result", task_id: key.taskId, attempt: key.attempt, ...result });
  }

  /** Sends `m` when connected and welcomed by the conductor database that `key` belongs to. */
  #sendFor(key: JournalKey, m: PlayerMessage): void {
    if (this.#welcomed && this.#conductorId === key.conductorId) this.#link?.send(m);
  }

  /** The journal key of a task of the conductor this player is talking to. */
  #key(taskId: number, attempt: number): JournalKey {
    return { conductorId: this.#conductorId!, taskId, attempt };
  }

  /** Reads the scores directory again and re-announces (by reconnecting); running tasks go on. */
  async rescan(): Promise<void> {
    this.#catalog = await scanScores(this.#opts.scoresDir, { accountProblem });
    this.#logCatalog();
    this.#link?.close("re-announcing scores");
    this.#wake?.();
  }

  /**
   * Stops taking tasks, lets running ones finish for up to `graceMs`, then
   * stops them (they end interrupted), delivers what results it can, and
   * disconnects.
   */
  /** Starts the metrics listener on `listen`; logs where it listens. */
  async serveMetrics(listen: Address): Promise<void> {
    const [{ PlayerMetrics }, { startMetricsServer }] = await Promise.all([
      import("./metrics.ts"),
      import("../metrics/server.ts"),
    ]);
    const metrics = new PlayerMetrics({
      running: () => this.#running.size,
      connected: () => this.#welcomed,
    });
    this.#metrics = metrics;
    this.#metricsServer = await startMetricsServer({
      listen,
      registry: metrics.registry,
      log: this.#log,
    });
    const a = this.#metricsServer.address;
    this.#log.info("metrics listening", { metrics: `${a.host}:${a.port}` });
  }

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
    await this.#metricsServer?.stop();
    this.#opts.journal.close();
    this.#log.info("player stopped");
  }
}
