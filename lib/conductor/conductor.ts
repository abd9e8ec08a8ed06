/**
 * The conductor: accepts players over mutual TLS, keeps the durable queue,
 * places tasks on players, records their results, and answers the
 * audience.
 *
 * Every change is written to the database first (group commit) and acted
 * on — an assignment sent, a submit answered, a result acknowledged — only
 * once it is durable.
 *
 * @module
 */

import { errorMessage, OrchError } from "../errors.ts";
import type { Logger } from "../log.ts";
import {
  type Assign,
  type CancelResponse,
  type ConductorMessage,
  type Hello,
  helloRange,
  type JobSummary,
  type JobView,
  negotiate,
  normalizePlayerName,
  ORCH_VERSION,
  type Outcome,
  PLAYER_TYPES,
  type PlayerMessage,
  type PlayerView,
  PROTOCOL_MINOR,
  PROTOCOL_RANGE,
  type Reject,
  type Result,
  type ScoreInfo,
  type SubmitRequest,
  type TaskState,
  type TriedPlayer,
} from "../protocol/mod.ts";
import { type ConductorStore, GroupCommit, type PlayerRecord, playerView } from "../store/mod.ts";
import type { Address } from "../config/mod.ts";
import { readPlayersFile } from "../config/mod.ts";
import {
  createMutualTlsServer,
  listen,
  Peer,
  peerIdentity,
  type TlsMaterial,
  type TlsServer,
  type TLSSocket,
} from "../tls/mod.ts";
import { Queue, type TaskRec } from "./queue.ts";
import { Session } from "./session.ts";
import { type AudienceServers, startAudienceServers } from "./http.ts";
import { createApiHandler } from "./api.ts";
import { admit } from "./admission.ts";
import { checkAnnouncedScores } from "../score/mod.ts";

/** What a conductor needs; configuration is adapted to this at the edge. */
export interface ConductorOptions {
  store: ConductorStore;
  tls: TlsMaterial;
  /** Where players connect. */
  listen: Address;
  /** The audience HTTPS API, or null for none. */
  audienceListen: Address | null;
  /** The audience Unix socket, or null for none. */
  audienceSocket: string | null;
  audienceSocketMode: number;
  playersFile: string;
  heartbeatMs: number;
  maxFrame: number;
  /** First wait before a failed run is retried; it doubles with each failure (capped at 64×). */
  retryBackoffMs: number;
  /** A player gone this long has its running tasks ended interrupted; 0: wait for it for ever. */
  lostAfterMs: number;
  /** How often deadlines, retry waits and lost players are checked. */
  tickMs: number;
  log: Logger;
  /** Called when the database fails under the conductor; it must stop. */
  onFatal: (err: unknown) => void;
}

/** Where a started conductor listens. */
export interface ConductorAddresses {
  players: Address;
  audience: Address | null;
  socket: string | null;
}

/** How long a player has to say hello after its TLS handshake. */
const HELLO_TIMEOUT_MS = 10_000;

/** Starts a conductor; resolves once it listens everywhere. */
export async function startConductor(opts: ConductorOptions): Promise<Conductor> {
  const authorised = await readPlayersFile(opts.playersFile);
  const c = new Conductor(opts, authorised);
  await c.start();
  return c;
}

/** A running conductor. */
export class Conductor {
  readonly #opts: ConductorOptions;
  readonly #log: Logger;
  readonly #store: ConductorStore;
  readonly #commit: GroupCommit;
  readonly #queue = new Queue();
  readonly #sessions = new Map<string, Session>();
  readonly #pending = new Set<Session>();
  #authorised: Set<string>;
  /** What each player last announced, from the database and live hellos. */
  readonly #announced = new Map<string, Map<string, ScoreInfo>>();
  readonly #records = new Map<string, PlayerRecord>();
  readonly #watchers = new Map<number, Set<() => void>>();
  readonly conductorId: string;
  #server: TlsServer | null = null;
  #audience: AudienceServers | null = null;
  /** Since when each player that holds tasks has been disconnected. */
  readonly #goneSince = new Map<string, number>();
  #dispatchQueued = false;
  #stopping = false;
  #ticker: ReturnType<typeof setInterval> | undefined;
  addresses: ConductorAddresses | null = null;

  constructor(opts: ConductorOptions, authorised: Set<string>) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#store = opts.store;
    this.#authorised = authorised;
    this.#commit = new GroupCommit(opts.store.db, (err) => {
      this.#log.error("database write failed; stopping", { error: errorMessage(err) });
      opts.onFatal(err);
    });
    this.conductorId =
      this.#commit.write(() => this.#store.conductorId(() => crypto.randomUUID())).value;
    this.#queue.load(this.#store.openTasks(), this.#store.seqRange());
    for (const rec of this.#store.players()) {
      this.#records.set(rec.name, rec);
      this.#announced.set(rec.name, new Map(rec.scores.map((s) => [s.name, s])));
    }
    // A crash between a job's last task ending and the job being marked finished leaves this to do.
    for (const jobId of this.#store.unfinishedDoneJobs()) {
      this.#commit.write(() => this.#store.finishJob(jobId, Date.now()));
    }
    // The players file may have changed while the conductor was down.
    const now = Date.now();
    const dropped = this.#commit.write(() => this.#dropUnlisted(now)).value;
    if (dropped.ended > 0) {
      this.#log.warn("tasks of players no longer listed ended player_removed", {
        tasks: dropped.ended,
      });
    }
    // Players holding tasks are gone until they say hello again.
    for (const t of this.#queue.all()) if (t.state !== "queued") this.#goneSince.set(t.host!, now);
  }

  /** Starts listening for players and the audience. */
  async start(): Promise<void> {
    const o = this.#opts;
    this.#server = createMutualTlsServer(
      o.tls,
      (socket) => this.#onConnection(socket),
      (reason) => this.#log.warn("refused a player connection at the TLS handshake", { reason }),
    );
    const players = await listen(this.#server, o.listen.host, o.listen.port);
    try {
      this.#audience = await startAudienceServers({
        handler: createApiHandler(this, this.#log),
        tls: o.tls,
        listen: o.audienceListen,
        socket: o.audienceSocket,
        socketMode: o.audienceSocketMode,
        log: this.#log,
      });
    } catch (err) {
      this.#server.close();
      throw err;
    }
    this.addresses = { players, audience: this.#audience.address, socket: this.#audience.socket };
    this.#log.info("conductor ready", {
      players: `${players.host}:${players.port}`,
      audience: this.#audience.address
        ? `${this.#audience.address.host}:${this.#audience.address.port}`
        : "off",
      socket: this.#audience.socket ?? "off",
      authorised: this.#authorised.size,
      open_tasks: this.#queue.size,
      version: ORCH_VERSION,
    });
    this.#ticker = setInterval(() => this.#tick(), o.tickMs);
    this.#scheduleDispatch();
  }

  // ---------------------------------------------------------------- players

  #onConnection(socket: TLSSocket): void {
    const identity = peerIdentity(socket);
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    if (!identity) {
      this.#log.warn("refused a player connection without a verified certificate", { remote });
      socket.destroy();
      return;
    }
    // The peer's callbacks run only after this function returns, when `session` is set.
    const peer = new Peer<PlayerMessage, ConductorMessage>(socket, {
      maxFrame: this.#opts.maxFrame,
      heartbeatMs: this.#opts.heartbeatMs,
      allowed: ["hello"],
      onMessage: (m) => this.#onMessage(session, m),
      onUnknownType: (type) =>
        this.#log.warn("ignored a message of a type this conductor does not know", {
          player: session.name ?? undefined,
          type,
        }),
      onClose: (reason) => this.#onClose(session, reason),
    });
    const session = new Session(peer, identity, Date.now());
    this.#pending.add(session);
    setTimeout(() => {
      if (session.name === null && !peer.closed) {
        peer.close(`no hello within ${HELLO_TIMEOUT_MS}ms`);
      }
    }, HELLO_TIMEOUT_MS);
  }

  #refuse(
    session: Session,
    code: "forbidden" | "protocol" | "conflict",
    message: string,
    fields = {},
  ): void {
    this.#log.warn("refused a player", {
      remote: session.peer.remote,
      cert: session.identity.cn,
      reason: message,
      ...fields,
    });
    session.send({ type: "refuse", code, message });
    session.peer.close(`refused: ${message}`);
  }

  #onMessage(session: Session, m: PlayerMessage): void {
    try {
      switch (m.type) {
        case "hello":
          return this.#onHello(session, m);
        case "ready":
          session.slots = m.slots;
          session.blocked = false;
          return this.#scheduleDispatch();
        case "accept":
          return this.#onAccept(session, m.task_id, m.attempt, m.started_at);
        case "reject":
          return this.#onReject(session, m);
        case "result":
          return this.#onResult(session, m);
      }
    } catch (err) {
      this.#log.error("failed to handle a player message", {
        player: session.name,
        type: m.type,
        error: errorMessage(err),
      });
      session.peer.close("internal error");
    }
  }

  #onHello(session: Session, hello: Hello): void {
    this.#pending.delete(session);
    const name = normalizePlayerName(hello.name);
    const id = session.identity;
    const chosen = negotiate(PROTOCOL_RANGE, helloRange(hello));
    if (!chosen.ok) return this.#refuse(session, "protocol", chosen.message);
    if (id.role !== "player") {
      return this.#refuse(
        session,
        "forbidden",
        `the certificate is for ${id.role ?? "no orch role"}, not a player`,
      );
    }
    if (!id.names.includes(name)) {
      return this.#refuse(
        session,
        "forbidden",
        `the certificate is for ${id.cn}, not ${name}`,
        { announced: name },
      );
    }
    if (!this.#authorised.has(name)) {
      return this.#refuse(
        session,
        "forbidden",
        `${name} is not in the players file ${this.#opts.playersFile}`,
      );
    }
    const unsound = checkAnnouncedScores(hello.scores);
    if (unsound) return this.#refuse(session, "protocol", `announced scores: ${unsound}`);
    const old = this.#sessions.get(name);
    if (old) {
      this.#log.warn("a new connection replaces the old one", {
        player: name,
        old: old.peer.remote,
        new: session.peer.remote,
      });
      this.#sessions.delete(name);
      old.peer.close("replaced by a new connection");
    }
    session.name = name;
    session.version = hello.version;
    session.scores = new Map(hello.scores.map((s) => [s.name, s]));
    this.#sessions.set(name, session);
    this.#announced.set(name, session.scores);
    const now = Date.now();
    const record: PlayerRecord = {
      name,
      version: hello.version,
      slots: hello.slots,
      scores: hello.scores,
      address: session.peer.remote,
      lastSeen: now,
    };
    this.#records.set(name, record);

    // Reconcile what the player holds with what the database says it holds.
    const mine = new Map<string, Hello["journal"][number]>();
    for (const e of hello.journal) {
      if (e.conductor_id === this.conductorId) mine.set(`${e.task_id}/${e.attempt}`, e);
    }
    const toCancel: { task_id: number; attempt: number }[] = [];
    this.#goneSince.delete(name);
    const { durable } = this.#commit.write(() => {
      this.#store.savePlayer(record);
      for (const t of this.#queue.heldBy(name)) {
        const entry = mine.get(`${t.id}/${t.attempt}`);
        mine.delete(`${t.id}/${t.attempt}`);
        if (entry) {
          if (t.state === "assigned") {
            this.#store.start(t.id, t.attempt, now, now);
            this.#queue.start(t);
          }
          if (t.cancelRequested && entry.state === "running") {
            toCancel.push({ task_id: t.id, attempt: t.attempt });
          }
          continue;
        }
        if (t.state === "assigned") {
          // Sent but never accepted: it did not run; it may go anywhere again.
          this.#store.endAttempt(t.id, t.attempt, "unstarted", "the player never accepted it", now);
          if (t.cancelRequested) {
            this.#finishTask(t, "cancelled", "cancelled before it started", now);
          } else this.#requeue(t, t.scope === "one" ? this.#queue.takeHeadSeq() : t.seq, now);
        } else {
          // Accepted, and the player no longer knows of it: it was cut short.
          this.#ranAndFailed(
            t,
            "interrupted",
            `${name} lost track of it (journal lost while it ran)`,
            now,
          );
        }
      }
      for (const e of mine.values()) {
        // The player holds a task the conductor no longer expects of it.
        if (e.state === "running") toCancel.push({ task_id: e.task_id, attempt: e.attempt });
      }
    });
    session.peer.allow(PLAYER_TYPES);
    this.#log.info("player connected", {
      player: name,
      remote: session.peer.remote,
      version: hello.version,
      protocol: `${chosen.major}.${hello.minor ?? 0}`,
      scores: hello.scores.length,
      journal: hello.journal.length,
    });
    durable.then(() => {
      if (session.peer.closed) return;
      session.send({
        type: "welcome",
        protocol: chosen.major,
        minor: PROTOCOL_MINOR,
        conductor_id: this.conductorId,
        heartbeat_ms: this.#opts.heartbeatMs,
      });
      for (const c of toCancel) session.send({ type: "cancel", ...c });
      this.#scheduleDispatch();
    });
  }

  #onClose(session: Session, reason: string): void {
    this.#pending.delete(session);
    if (session.name === null) return;
    if (this.#sessions.get(session.name) === session) {
      this.#sessions.delete(session.name);
      this.#log.info("player disconnected", {
        player: session.name,
        reason,
        holding: this.#queue.heldCount(session.name),
      });
      const now = Date.now();
      if (this.#queue.heldCount(session.name) > 0) this.#goneSince.set(session.name, now);
      const rec = this.#records.get(session.name);
      if (rec) rec.lastSeen = now;
      if (!this.#stopping) this.#commit.write(() => this.#store.touchPlayer(session.name!, now));
    }
  }

  /** The open task `id` if `session` holds attempt `attempt` of it. */
  #held(session: Session, id: number, attempt: number): TaskRec | undefined {
    const t = this.#queue.get(id);
    if (!t || t.host !== session.name || t.attempt !== attempt || t.state === "queued") {
      return undefined;
    }
    return t;
  }

  #onAccept(session: Session, taskId: number, attempt: number, startedAt: number): void {
    const t = this.#held(session, taskId, attempt);
    // Already running: reconciliation saw it in the player's journal before this accept arrived.
    if (t?.state === "running") return;
    if (!t || t.state !== "assigned") {
      this.#log.warn("ignored an accept for a task the player does not hold", {
        player: session.name,
        task: taskId,
        attempt,
      });
      return;
    }
    this.#queue.start(t);
    this.#commit.write(() => this.#store.start(t.id, attempt, startedAt, Date.now()));
  }

  #onReject(session: Session, m: Reject): void {
    const t = this.#held(session, m.task_id, m.attempt);
    if (!t || t.state !== "assigned") {
      this.#log.warn("ignored a reject for a task the player does not hold", {
        player: session.name,
        task: m.task_id,
        attempt: m.attempt,
      });
      return;
    }
    const player = session.name!;
    this.#log.info("player refused a task", {
      player,
      task: t.id,
      job: t.jobId,
      code: m.code,
      // Parameter problems quote values, which are never logged; orch status shows them.
      reason: m.code === "bad_params" ? undefined : m.message,
    });
    const now = Date.now();
    this.#commit.write(() => {
      this.#store.endAttempt(t.id, t.attempt, "rejected", `${m.code}: ${m.message}`, now);
      if (m.code === "busy" || m.code === "draining") {
        // The player is fuller than the conductor thought: wait for its next ready.
        session.blocked = true;
      }
      if (t.cancelRequested) {
        this.#finishTask(t, "cancelled", "cancelled before it started", now);
      } else if (m.code === "busy" || m.code === "draining") {
        // Not about the task: try again, first in line.
        this.#requeue(t, t.scope === "one" ? this.#queue.takeHeadSeq() : t.seq, now);
      } else {
        this.#softFailure(t, { player, code: m.code, message: m.message }, now);
      }
    });
    this.#scheduleDispatch();
  }

  /**
   * A player could not run a task (nothing ran). An all-of task has nowhere
   * else to go and ends `rejected`; a one-of task goes back to the head of
   * the queue without that player, and ends `rejected` once every target
   * has refused it. Must run inside a write.
   */
  #softFailure(t: TaskRec, why: TriedPlayer, now: number): void {
    if (t.scope === "all") {
      this.#finishTask(t, "rejected", `${why.player} refused it: ${why.code}: ${why.message}`, now);
      return;
    }
    t.tried = [...t.tried, why];
    const left = t.candidates.filter((c) =>
      this.#authorised.has(c) && !t.tried.some((x) => x.player === c)
    );
    if (left.length === 0) {
      const list = t.tried.map((x) => `${x.player} (${x.code}: ${x.message})`).join("; ");
      this.#finishTask(t, "rejected", `every target refused it: ${list}`, now);
    } else {
      this.#requeue(t, this.#queue.takeHeadSeq(), now);
    }
  }

  /** Puts a task back in the queue, to be placed from `notBefore` on. Must run inside a write. */
  #requeue(t: TaskRec, seq: number, now: number, notBefore: number | null = null): void {
    t.notBefore = notBefore;
    this.#store.requeue(t.id, {
      seq,
      tried: t.tried,
      clearHost: t.scope === "one",
      notBefore,
      failures: t.failures,
    }, now);
    this.#queue.requeue(t, seq);
  }

  /**
   * A run ended without success. It is retried after a backoff when the
   * job allows more retries (and nobody cancelled it); else the task ends
   * with `outcome`. Must run inside a write.
   */
  #ranAndFailed(t: TaskRec, outcome: Outcome, reason: string | null, now: number): void {
    const attempt = this.#store.attemptState(t.id, t.attempt);
    if (attempt && (attempt.state === "assigned" || attempt.state === "running")) {
      this.#store.endAttempt(t.id, t.attempt, outcome, reason, now);
    }
    t.failures++;
    if (!t.cancelRequested && t.failures <= t.retries) {
      const wait = this.#opts.retryBackoffMs * 2 ** Math.min(t.failures - 1, 6);
      this.#log.info("retrying a task", {
        task: t.id,
        job: t.jobId,
        after: outcome,
        retry: `${t.failures}/${t.retries}`,
        in_ms: wait,
      });
      this.#requeue(t, t.seq, now, now + wait);
      return;
    }
    this.#finishTask(t, outcome, reason, now);
  }

  /** Ends a task; marks its job finished when it was the last. Must run inside a write. */
  #finishTask(t: TaskRec, state: TaskState, reason: string | null, now: number): void {
    this.#store.finish(t.id, state, reason, t.tried, t.failures, now);
    const left = this.#queue.close(t);
    if (left === 0) {
      this.#store.finishJob(t.jobId, now);
      const jobId = t.jobId;
      this.#commit.afterCommit(() => this.#notifyJob(jobId));
    }
  }

  /** Wakes everyone waiting for job `jobId`. */
  #notifyJob(jobId: number): void {
    const waiters = this.#watchers.get(jobId);
    if (!waiters) return;
    this.#watchers.delete(jobId);
    for (const w of waiters) w();
  }

  #onResult(session: Session, r: Result): void {
    const player = session.name!;
    const ack = () => session.send({ type: "result_ack", task_id: r.task_id, attempt: r.attempt });
    const known = this.#store.attemptState(r.task_id, r.attempt);
    if (!known || known.player !== player) {
      this.#log.warn("acknowledged a result for an attempt this player was not given", {
        player,
        task: r.task_id,
        attempt: r.attempt,
      });
      ack();
      return;
    }
    if (!["assigned", "running"].includes(known.state)) {
      // Already recorded (a result sent again after a reconnect), or ended otherwise meanwhile.
      this.#log.debug("duplicate result acknowledged", {
        player,
        task: r.task_id,
        attempt: r.attempt,
      });
      // The first copy may still be in the open transaction: acknowledge once it is durable.
      this.#commit.afterCommit(ack);
      return;
    }
    const now = Date.now();
    const t = this.#held(session, r.task_id, r.attempt);
    const { durable } = this.#commit.write(() => {
      this.#store.recordResult(r.task_id, r.attempt, r);
      if (!t) return;
      if (r.outcome === "failed" || r.outcome === "timed_out" || r.outcome === "interrupted") {
        this.#ranAndFailed(t, r.outcome, r.error, now);
      } else {
        this.#finishTask(t, r.outcome, r.error, now);
      }
    });
    this.#log.info("task finished", {
      player,
      task: r.task_id,
      attempt: r.attempt,
      outcome: r.outcome,
      exit: r.exit_code ?? r.signal ?? undefined,
      ms: r.ended_at - r.started_at,
    });
    durable.then(ack);
    this.#scheduleDispatch();
  }

  // ------------------------------------------------------------- scheduling

  #scheduleDispatch(): void {
    if (this.#dispatchQueued || this.#stopping) return;
    this.#dispatchQueued = true;
    queueMicrotask(() => {
      this.#dispatchQueued = false;
      try {
        this.#dispatch();
      } catch (err) {
        this.#log.error("scheduling failed", { error: errorMessage(err) });
      }
    });
  }

  #free(name: string): Session | undefined {
    const s = this.#sessions.get(name);
    if (!s || s.blocked || s.slots <= this.#queue.heldCount(name) || s.peer.closed) {
      return undefined;
    }
    return s;
  }

  /** Places queued tasks on free players, oldest first. */
  #dispatch(): void {
    const now = Date.now();
    for (;;) {
      let best: { t: TaskRec; s: Session } | undefined;
      for (const s of this.#sessions.values()) {
        if (!this.#free(s.name!)) continue;
        const t = this.#queue.headFor(s.name!, now);
        if (t && (!best || t.seq < best.t.seq)) best = { t, s };
      }
      const one = this.#firstOneOf(best?.t.seq ?? Infinity, now);
      if (one) best = one;
      if (!best) return;
      const { t, s } = best;
      if (t.deadline !== null && now > t.deadline) {
        this.#commit.write(() => this.#expire(t, now));
        continue;
      }
      if (!s.scores.has(t.score)) {
        this.#commit.write(() =>
          this.#softFailure(t, {
            player: s.name!,
            code: "unknown_score",
            message: `score ${t.score} is not installed there`,
          }, now)
        );
        continue;
      }
      this.#assign(t, s);
    }
  }

  /** Ends a queued task whose deadline has passed. Must run inside a write. */
  #expire(t: TaskRec, now: number): void {
    this.#finishTask(
      t,
      "expired",
      `not started by its deadline ${new Date(t.deadline!).toISOString()}`,
      now,
    );
  }

  /** The first queued one-of task (ahead of `before`) with a free, untried target, and that target. */
  #firstOneOf(before: number, now: number): { t: TaskRec; s: Session } | undefined {
    for (const t of this.#queue.queuedOneOf()) {
      if (t.seq >= before) return undefined;
      if (t.notBefore !== null && t.notBefore > now) continue;
      for (const c of t.candidates) {
        if (!this.#authorised.has(c) || t.tried.some((x) => x.player === c)) continue;
        const s = this.#free(c);
        if (s) return { t, s };
      }
    }
    return undefined;
  }

  /**
   * Housekeeping every `tickMs`: queued tasks past their deadline expire,
   * retries whose wait is over are placed, and the running tasks of a
   * player gone longer than `lostAfterMs` end interrupted.
   */
  #tick(): void {
    if (this.#stopping) return;
    const now = Date.now();
    const expired = [...this.#queue.all()].filter((t) =>
      t.state === "queued" && t.deadline !== null && now > t.deadline
    );
    const lost: [string, TaskRec[]][] = [];
    if (this.#opts.lostAfterMs > 0) {
      for (const [name, since] of this.#goneSince) {
        if (now - since < this.#opts.lostAfterMs || this.#sessions.has(name)) continue;
        this.#goneSince.delete(name);
        lost.push([name, this.#queue.heldBy(name)]);
      }
    }
    if (expired.length > 0 || lost.length > 0) {
      this.#commit.write(() => {
        for (const t of expired) this.#expire(t, now);
        for (const [name, tasks] of lost) {
          this.#log.warn("player lost: ending its tasks", { player: name, tasks: tasks.length });
          const gone = `${name} was gone for more than ${
            Math.round(this.#opts.lostAfterMs / 1000)
          }s`;
          // Whether they started is unknown: they end interrupted and never run twice.
          for (const t of tasks) this.#ranAndFailed(t, "interrupted", gone, now);
        }
      });
    }
    if (this.#queue.size > 0) this.#scheduleDispatch();
  }

  #assign(t: TaskRec, s: Session): void {
    const attempt = t.attempt + 1;
    const player = s.name!;
    const { durable } = this.#commit.write(() =>
      this.#store.assign(t.id, attempt, player, Date.now())
    );
    this.#queue.assign(t, player, attempt);
    const msg: Assign = {
      type: "assign",
      task_id: t.id,
      attempt,
      job_id: t.jobId,
      score: t.score,
      params: t.params,
      timeout_ms: t.timeoutMs,
    };
    durable.then(() => {
      if (!s.send(msg)) {
        this.#log.info(
          "assignment not sent: the player went away; it is reconciled when it returns",
          {
            player,
            task: t.id,
          },
        );
      }
    });
  }

  // --------------------------------------------------------------- audience

  /** Validates and stores a job; resolves with its id once it is durable. */
  async submit(req: SubmitRequest, submittedBy: string): Promise<number> {
    if (this.#stopping) throw new OrchError("unavailable", "the conductor is shutting down");
    const now = Date.now();
    if (req.request_id !== null) {
      // Sent again after its answer was lost: the job exists (or is being committed) already.
      const known = this.#store.jobByRequest(req.request_id);
      if (known !== undefined) {
        this.#log.info("submit sent again; answering with its job", {
          job: known,
          by: submittedBy,
        });
        await new Promise<void>((resolve) => this.#commit.afterCommit(resolve));
        return known;
      }
    }
    admit(req, { authorised: this.#authorised, announced: this.#announced, now });
    const n = req.scope === "all" ? req.targets.length : 1;
    const firstSeq = this.#queue.takeTailSeqs(n);
    const { value, durable } = this.#commit.write(() =>
      this.#store.insertJob({
        score: req.score,
        scope: req.scope,
        targets: req.targets,
        params: req.params,
        timeoutMs: req.timeout_ms,
        deadline: req.deadline,
        retries: req.retries,
        requestId: req.request_id,
        submittedAt: now,
        submittedBy,
      }, firstSeq)
    );
    value.taskIds.forEach((id, i) =>
      this.#queue.add({
        id,
        jobId: value.jobId,
        seq: firstSeq + i,
        scope: req.scope,
        score: req.score,
        params: req.params,
        candidates: req.scope === "all" ? [req.targets[i]] : req.targets,
        host: req.scope === "all" ? req.targets[i] : null,
        state: "queued",
        attempt: 0,
        tried: [],
        timeoutMs: req.timeout_ms,
        deadline: req.deadline,
        retries: req.retries,
        notBefore: null,
        failures: 0,
        cancelRequested: false,
      })
    );
    this.#log.info("job submitted", {
      job: value.jobId,
      score: req.score,
      scope: req.scope,
      targets: req.targets.length,
      by: submittedBy,
    });
    this.#scheduleDispatch();
    await durable;
    return value.jobId;
  }

  /**
   * Cancels a job: tasks not started end `cancelled` at once; tasks sent to
   * a player are stopped there (their process group killed) and end
   * `cancelled` when the player reports back.
   */
  async cancel(id: number, by: string): Promise<CancelResponse> {
    if (this.#stopping) throw new OrchError("unavailable", "the conductor is shutting down");
    if (!this.#store.getJob(id)) throw new OrchError("not_found", `no job ${id}`);
    const now = Date.now();
    const stop: TaskRec[] = [];
    let cancelled = 0;
    const { durable } = this.#commit.write(() => {
      this.#store.cancelJob(id, now);
      for (const t of this.#queue.ofJob(id)) {
        if (t.state === "queued") {
          this.#finishTask(t, "cancelled", `cancelled by ${by}`, now);
          cancelled++;
        } else if (!t.cancelRequested) {
          t.cancelRequested = true;
          this.#store.requestCancel(t.id, now);
          stop.push(t);
        }
      }
    });
    await durable;
    for (const t of stop) {
      this.#sessions.get(t.host!)?.send({ type: "cancel", task_id: t.id, attempt: t.attempt });
    }
    this.#log.info("job cancelled", { job: id, by, cancelled, stopping: stop.length });
    return { id, cancelled, stopping: stop.length };
  }

  /** A job, or undefined. */
  job(id: number): JobView | undefined {
    return this.#store.getJob(id);
  }

  /**
   * A job once it is finished, or as it is after `timeoutMs` (or when
   * `signal` aborts), whichever comes first. Undefined when there is no such job.
   */
  async waitJob(id: number, timeoutMs: number, signal?: AbortSignal): Promise<JobView | undefined> {
    const job = this.#store.getJob(id);
    if (!job || job.finished_at !== null || timeoutMs <= 0 || this.#stopping) return job;
    await new Promise<void>((resolve) => {
      let set = this.#watchers.get(id);
      if (!set) this.#watchers.set(id, set = new Set());
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.#watchers.get(id)?.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener("abort", done, { once: true });
      set.add(done);
    });
    return this.#store.getJob(id);
  }

  /** The newest jobs. */
  jobs(limit: number, before?: number): JobSummary[] {
    return this.#store.listJobs(Math.min(Math.max(limit, 1), 1000), before);
  }

  /** Every player that is authorised or has been seen. */
  players(): PlayerView[] {
    const names = new Set([...this.#authorised, ...this.#records.keys(), ...this.#sessions.keys()]);
    return [...names].sort().map((name) => {
      const s = this.#sessions.get(name);
      return playerView(name, this.#records.get(name), {
        connected: s !== undefined,
        address: s?.peer.remote ?? null,
        slots: s?.slots ?? 0,
        running: this.#queue.heldCount(name),
      }, this.#authorised.has(name));
    });
  }

  /** Numbers for the health endpoint. */
  health(): { conductor_id: string; version: string; players: number; open_tasks: number } {
    return {
      conductor_id: this.conductorId,
      version: ORCH_VERSION,
      players: this.#sessions.size,
      open_tasks: this.#queue.size,
    };
  }

  // -------------------------------------------------------------- lifecycle

  /**
   * Re-reads the players file. A player no longer listed is disconnected,
   * and its tasks end `player_removed` at once; nothing is left dangling.
   */
  async reload(): Promise<{ added: string[]; removed: string[] }> {
    const next = await readPlayersFile(this.#opts.playersFile);
    const removed = [...this.#authorised].filter((n) => !next.has(n));
    const added = [...next].filter((n) => !this.#authorised.has(n));
    this.#authorised = next;
    const { value: dropped, durable } = this.#commit.write(() => this.#dropUnlisted(Date.now()));
    await durable;
    for (const name of removed) {
      const s = this.#sessions.get(name);
      if (!s) continue;
      // Its running scores are stopped first: their results can no longer be delivered.
      for (const t of dropped.held.filter((x) => x.host === name)) {
        s.send({ type: "cancel", task_id: t.id, attempt: t.attempt });
      }
      this.#refuse(s, "forbidden", `${name} was removed from the players file`);
    }
    this.#log.info("players file reloaded", {
      players: next.size,
      added: added.join(",") || undefined,
      removed: removed.join(",") || undefined,
    });
    this.#scheduleDispatch();
    return { added, removed };
  }

  /**
   * Ends, as `player_removed`, every open task that only unlisted players
   * could run: all-of tasks of players not in the players file (queued or
   * running there), and one-of tasks without a listed, untried target.
   * Returns how many tasks ended, and those that were on a player. Must
   * run inside a write.
   */
  #dropUnlisted(now: number): { ended: number; held: TaskRec[] } {
    const held: TaskRec[] = [];
    const before = this.#queue.size;
    for (const t of [...this.#queue.all()]) {
      if (t.state !== "queued") {
        if (this.#authorised.has(t.host!)) continue;
        const why = `${t.host} was removed from the players file`;
        this.#store.endAttempt(t.id, t.attempt, "player_removed", why, now);
        held.push({ ...t });
        this.#finishTask(t, "player_removed", why, now);
      } else if (t.scope === "all") {
        if (!this.#authorised.has(t.host!)) {
          this.#finishTask(t, "player_removed", `${t.host} was removed from the players file`, now);
        }
      } else if (
        !t.candidates.some((c) => this.#authorised.has(c) && !t.tried.some((x) => x.player === c))
      ) {
        this.#finishTask(
          t,
          "player_removed",
          "none of its targets is in the players file any more",
          now,
        );
      }
    }
    return { ended: before - this.#queue.size, held };
  }

  /** Stops accepting, closes every connection, commits what is pending, closes the database. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#ticker);
    const closing = this.#server
      ? new Promise<void>((r) => this.#server!.close(() => r()))
      : Promise.resolve();
    // Waiting clients are answered now, so that the audience servers can drain.
    for (const set of [...this.#watchers.values()]) for (const w of [...set]) w();
    await this.#audience?.stop();
    for (const s of [...this.#sessions.values(), ...this.#pending]) {
      s.peer.close("the conductor is stopping");
    }
    await closing;
    this.#commit.close();
    this.#store.close();
    this.#log.info("conductor stopped");
  }
}
