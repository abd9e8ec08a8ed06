/**
 * The conductor's side of the player protocol: connections from hello to
 * close, each message turned into a change of the task machine, placements
 * sent once committed, players that stay away, and the players file
 * reloaded.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../log.ts";
import {
  type Accept,
  type Assign,
  type Hello,
  maskResult,
  maskText,
  type Output,
  type PlayerMessage,
  PROTOCOL_MINOR,
  type Ready,
  type Reject,
  type Result,
  secretValues,
} from "../protocol/mod.ts";
import { checkAnnouncedScores } from "../score/mod.ts";
import type { PlayerRecord } from "../store/mod.ts";
import type { Auditor } from "./audit.ts";
import type { Clock } from "./clock.ts";
import type { Committer } from "./committer.ts";
import type { EventBus } from "./events.ts";
import type { LastSeen } from "./last_seen.ts";
import type { LiveOutputs } from "./live_output.ts";
import { judgeHello, reconcile } from "./handshake.ts";
import { reconnectDelays } from "./reconnect.ts";
import type { LinkOpener } from "./link.ts";
import { fixedHost, type TaskMachine, type TaskRec } from "./machine.ts";
import { type Registry, Session } from "./registry.ts";
import type { Scheduler } from "./scheduler.ts";
import type { Timers } from "./timers.ts";

/** The protocol minor from which a player understands `reconnect`. */
const RECONNECT_MINOR = 4;

/** How long a player has to say hello after its connection is made. */
const HELLO_TIMEOUT_MS = 10_000;

/**
 * Placements made in one turn of the event loop at most; the rest follow in
 * the next turns, after I/O (health requests, results) has had its turn and
 * the placements made so far are committed and sent.
 */
const PLACEMENTS_PER_TURN = 1000;

/** What the gateway needs around it. */
export interface GatewayDeps {
  clock: Clock;
  committer: Committer;
  machine: TaskMachine;
  registry: Registry;
  scheduler: Scheduler;
  timers: Timers;
  bus: EventBus;
  /** Running tasks' live output. */
  live: LiveOutputs;
  /** When each player was last heard from, written behind. */
  lastSeen: LastSeen;
  log: Logger;
  /** The audit trail (impostor connections are recorded in it). */
  audit: Auditor;
  playersFile: string;
  heartbeatMs: number;
  /** A player gone this long has its tasks ended interrupted; 0: never. */
  lostAfterMs: number;
  /** This database's identity. */
  conductorId: () => string;
  /** True once the conductor is stopping: messages are no longer acted on. */
  stopping: () => boolean;
}

/** Players: their connections, messages and placements. */
export class PlayerGateway {
  readonly #d: GatewayDeps;
  #dispatchQueued = false;

  constructor(deps: GatewayDeps) {
    this.#d = deps;
  }

  /** Takes a new connection; it must say hello within {@linkcode HELLO_TIMEOUT_MS}. */
  connect(open: LinkOpener): void {
    const d = this.#d;
    // The link's callbacks run only after this function returns, when `session` is set.
    const link = open({
      onMessage: (m) => this.#onMessage(session, m),
      onClose: (reason) => this.#onClose(session, reason),
      onHeard: () => this.#heard(session),
    });
    const session = new Session(link, d.clock.now());
    d.registry.pending.add(session);
    d.clock.setTimeout(() => {
      if (session.name === null && !link.closed) {
        link.close(`no hello within ${HELLO_TIMEOUT_MS}ms`);
      }
    }, HELLO_TIMEOUT_MS);
  }

  /** `player` may take work again (it was undrained). */
  wake(player: string): void {
    this.#d.scheduler.playerFree(player);
  }

  /** Runs the scheduler soon (once per turn, however often asked). */
  kick(): void {
    if (this.#dispatchQueued || this.#d.stopping()) return;
    this.#dispatchQueued = true;
    queueMicrotask(() => this.#runDispatch());
  }

  #runDispatch(): void {
    this.#dispatchQueued = false;
    if (this.#d.stopping()) return;
    try {
      if (this.#dispatch()) return;
    } catch (err) {
      this.#d.log.error("scheduling failed", { error: errorMessage(err) });
      return;
    }
    // More to place: go on in a later turn.
    this.#dispatchQueued = true;
    setImmediate(() => this.#runDispatch());
  }

  /** Refuses a player: says why, and closes its connection. */
  refuse(
    session: Session,
    code: "forbidden" | "protocol" | "conflict",
    message: string,
  ): void {
    this.#d.log.warn("refused a player", {
      remote: session.link.remote,
      cert: session.link.identity.cn,
      reason: message,
    });
    session.send({ type: "refuse", code, message });
    session.link.close(`refused: ${message}`);
  }

  /**
   * Tells every welcomed player that speaks protocol minor 4 when to dial
   * again (see `reconnect.ts`): the conductor stops on purpose and closes
   * the connections next. Older players are told nothing and come back on
   * their own backoff. Returns how many were told and over what window.
   */
  askToReconnect(): { players: number; windowMs: number } {
    const told = [...this.#d.registry.sessions.values()].filter((s) =>
      s.welcomed && !s.link.closed && s.minor >= RECONNECT_MINOR
    );
    const { delays, windowMs } = reconnectDelays(told.length);
    told.forEach((s, i) => s.send({ type: "reconnect", delay_ms: delays[i], retry_ms: windowMs }));
    return { players: told.length, windowMs };
  }

  /** Closes every connection (the conductor is stopping). */
  closeAll(reason: string): void {
    const r = this.#d.registry;
    for (const s of [...r.sessions.values(), ...r.pending]) s.link.close(reason);
  }

  /**
   * Ends, as `player_removed`, every open task that only unlisted players
   * could run: all-of tasks of players not in the players file (queued or
   * on the player), and one-of tasks without a listed, untried target.
   * Returns how many ended, and those that were on a player.
   */
  dropUnlisted(): { ended: number; held: { task_id: number; attempt: number; host: string }[] } {
    const { machine, registry } = this.#d;
    const listed = (p: string) => registry.authorised.has(p);
    const held: { task_id: number; attempt: number; host: string }[] = [];
    let ended = 0;
    for (const t of [...machine.all()]) {
      if (t.state !== "queued") {
        if (listed(t.host!)) continue;
        held.push({ task_id: t.id, attempt: t.attempt, host: t.host! });
        machine.removed(t, `${t.host} was removed from the players file`);
        ended++;
      } else if (fixedHost(t.job)) {
        if (listed(t.host!)) continue;
        machine.removed(t, `${t.host} was removed from the players file`);
        ended++;
      } else if (
        !t.job.targets.some((c) => listed(c) && !t.triedBy?.has(c) && !t.job.used.has(c))
      ) {
        machine.removed(t, "none of its targets is in the players file any more");
        ended++;
      }
    }
    return { ended, held };
  }

  /** Starts the lost-player clock of every player that holds tasks (at start: all are away). */
  awayAtStart(): void {
    const now = this.#d.clock.now();
    const holders = new Set<string>();
    for (const t of this.#d.machine.all()) if (t.state !== "queued") holders.add(t.host!);
    for (const name of holders) this.#gone(name, now);
  }

  // ------------------------------------------------------------- messages

  #onMessage(session: Session, m: PlayerMessage): void {
    if (this.#d.stopping()) return;
    if ((session.name === null) !== (m.type === "hello")) {
      session.link.close(
        `protocol error: ${m.type === "hello" ? "a second hello" : `${m.type} before the hello`}`,
      );
      return;
    }
    // Links that do not report frames (in-process ones) are heard through their messages.
    this.#heard(session);
    try {
      switch (m.type) {
        case "hello":
          return this.#onHello(session, m);
        case "ready":
          return this.#onReady(session, m);
        case "accept":
          return this.#onAccept(session, m);
        case "reject":
          return this.#onReject(session, m);
        case "output":
          return this.#onOutput(session, m);
        case "result":
          return this.#onResult(session, m);
      }
    } catch (err) {
      this.#d.log.error("failed to handle a player message", {
        player: session.name,
        type: m.type,
        error: errorMessage(err),
      });
      session.link.close("internal error");
    }
  }

  /** `session` sent a frame: its player's last-seen time moves on (in memory; written behind). */
  #heard(session: Session): void {
    const d = this.#d;
    const name = session.name;
    if (name === null || d.stopping() || d.registry.sessions.get(name) !== session) return;
    const now = d.clock.now();
    session.lastHeard = now;
    d.lastSeen.heard(name, now);
  }

  #onHello(session: Session, hello: Hello): void {
    const d = this.#d;
    const { registry, machine, committer } = d;
    registry.pending.delete(session);
    const verdict = judgeHello(hello, session.link.identity, {
      authorised: registry.authorised,
      playersFile: d.playersFile,
    });
    if (!verdict.ok) return this.refuse(session, verdict.code, verdict.message);
    // Each declaration is judged once, the first time any player announces it.
    const announced = registry.keyed(hello.scores);
    const problem = checkAnnouncedScores(announced.unseen);
    if (problem !== undefined) {
      return this.refuse(session, "protocol", `announced scores: ${problem}`);
    }
    const name = verdict.name;
    const old = registry.sessions.get(name);
    if (old && !old.link.closed) {
      // The connection in place answers its heartbeat: the newcomer holds a copy of the player's
      // certificate (a cloned machine). The player's running work stays with the connection that
      // has it; if that one is in fact gone, its heartbeat fails and the next attempt gets in.
      const reason =
        `player ${name} is already connected from ${old.link.remote}; a second connection with its certificate was refused`;
      d.log.error("a second connection presented a connected player's certificate", {
        player: name,
        connected: old.link.remote,
        refused: session.link.remote,
      });
      d.audit.record({
        who: `player:${name}`,
        auth: "client_certificate",
        transport: "players",
        from: session.link.remote,
        action: "player_connect",
        subject: `a second connection of player ${name}`,
        outcome: "refused",
        reason,
      }, "error");
      session.send({ type: "refuse", code: "conflict", message: reason });
      session.link.close(`refused: ${reason}`);
      return;
    }
    if (old) registry.sessions.delete(name);
    const now = d.clock.now();
    session.name = name;
    session.lastHeard = now;
    session.version = hello.version;
    session.minor = hello.minor ?? 0;
    session.scores = registry.announce(name, announced);
    registry.facts.set(name, hello.facts ?? {});
    registry.sessions.set(name, session);
    registry.goneSince.delete(name);
    const record: PlayerRecord = {
      name,
      version: hello.version,
      slots: hello.slots,
      scores: [...session.scores.values()],
      address: session.link.remote,
      lastSeen: now,
    };
    registry.records.set(name, record);
    committer.savePlayer(record);

    const plan = reconcile(machine.heldForReconcile(name), hello.journal, d.conductorId());
    for (const id of plan.started) machine.start(machine.task(id)!, now);
    for (const id of plan.unstarted) machine.unstarted(machine.task(id)!);
    for (const id of plan.lost) {
      machine.interrupted(
        machine.task(id)!,
        `${name} lost track of it (journal lost while it ran)`,
      );
    }
    d.log.info("player connected", {
      player: name,
      remote: session.link.remote,
      version: hello.version,
      protocol: `${verdict.major}.${hello.minor ?? 0}`,
      scores: hello.scores.length,
      journal: hello.journal.length,
    });
    committer.afterCommit(() => {
      if (session.link.closed || registry.sessions.get(name) !== session) return;
      session.send({
        type: "welcome",
        protocol: verdict.major,
        minor: PROTOCOL_MINOR,
        conductor_id: d.conductorId(),
        heartbeat_ms: d.heartbeatMs,
      });
      for (const c of plan.cancel) session.send({ type: "cancel", ...c });
      session.link.established();
      session.welcomed = true;
      d.bus.publish({ type: "player.connected", at: d.clock.now(), player: name });
    });
    if (plan.unstarted.length > 0 || plan.lost.length > 0) this.kick();
  }

  #onReady(session: Session, m: Ready): void {
    session.slots = m.slots;
    session.blocked = false;
    this.#d.scheduler.playerFree(session.name!);
  }

  /** The open task `id` if `session` holds attempt `attempt` of it. */
  #held(session: Session, id: number, attempt: number): TaskRec | undefined {
    const t = this.#d.machine.task(id);
    if (!t || t.host !== session.name || t.attempt !== attempt || t.state === "queued") {
      return undefined;
    }
    return t;
  }

  #onAccept(session: Session, m: Accept): void {
    const t = this.#held(session, m.task_id, m.attempt);
    // Already running: the reconciliation saw it in the player's journal before this accept arrived.
    if (t?.state === "running") return;
    if (!t) {
      this.#d.log.warn("ignored an accept for a task the player does not hold", {
        player: session.name,
        task: m.task_id,
        attempt: m.attempt,
      });
      return;
    }
    this.#d.machine.start(t, m.started_at);
  }

  #onReject(session: Session, m: Reject): void {
    const t = this.#held(session, m.task_id, m.attempt);
    if (!t || t.state !== "assigned") {
      this.#d.log.warn("ignored a reject for a task the player does not hold", {
        player: session.name,
        task: m.task_id,
        attempt: m.attempt,
      });
      return;
    }
    const player = session.name!;
    this.#d.log.info("player refused a task", {
      player,
      task: t.id,
      job: t.job.id,
      code: m.code,
      // Parameter problems quote values, which are never logged; orch status shows them.
      reason: m.code === "bad_params" ? undefined : m.message,
    });
    // The player is fuller than the conductor thought: wait for its next ready.
    if (m.code === "busy" || m.code === "draining") session.blocked = true;
    const message = maskText(m.message, jobSecrets(t.job));
    this.#d.machine.refused(t, { player, code: m.code, message });
    this.#d.scheduler.playerFree(player);
    this.kick();
  }

  #onOutput(session: Session, m: Output): void {
    const t = this.#held(session, m.task_id, m.attempt);
    // Output of an attempt that ended (its result came first) or is not this player's: not shown.
    if (!t) return;
    const secrets = jobSecrets(t.job);
    this.#d.live.add(t.job.id, t.id, session.name!, m, maskText(m.data, secrets), secrets);
  }

  #onResult(session: Session, r: Result): void {
    const d = this.#d;
    const player = session.name!;
    const ack = () => session.send({ type: "result_ack", task_id: r.task_id, attempt: r.attempt });
    const t = this.#held(session, r.task_id, r.attempt);
    if (t) {
      // Masked again here: a player of an older version does not know the submitter's marks.
      d.machine.result(t, maskResult(r, jobSecrets(t.job)));
      d.log.debug("task finished", {
        player,
        task: r.task_id,
        attempt: r.attempt,
        outcome: r.outcome,
        exit: r.exit_code ?? r.signal ?? undefined,
        ms: r.ended_at - r.started_at,
      });
      d.scheduler.playerFree(player);
    } else {
      // Recorded already (sent again after a reconnect), ended otherwise meanwhile, or never its.
      d.log.debug("result for an attempt not open here acknowledged", {
        player,
        task: r.task_id,
        attempt: r.attempt,
      });
    }
    // Acknowledged only once what it reports (or its first copy) is committed.
    d.committer.afterCommit(ack);
  }

  #onClose(session: Session, reason: string): void {
    const d = this.#d;
    d.registry.pending.delete(session);
    const name = session.name;
    if (name === null || d.registry.sessions.get(name) !== session) return;
    d.registry.sessions.delete(name);
    const now = d.clock.now();
    const holding = d.machine.heldCount(name);
    d.log.info("player disconnected", { player: name, reason, holding });
    const rec = d.registry.records.get(name);
    if (rec) rec.lastSeen = now;
    // While stopping, its last frame's time is written with the last batch.
    if (d.stopping()) return;
    d.lastSeen.forget(name);
    d.committer.touchPlayer(name, now);
    d.bus.publish({ type: "player.disconnected", at: now, player: name, reason });
    if (holding > 0) this.#gone(name, now);
  }

  /** `player`, holding tasks, is away since `since`: with `lostAfterMs`, its tasks end then. */
  #gone(player: string, since: number): void {
    const d = this.#d;
    d.registry.goneSince.set(player, since);
    if (d.lostAfterMs <= 0) return;
    d.timers.at(since + d.lostAfterMs, () => {
      if (d.stopping() || d.registry.goneSince.get(player) !== since) return;
      if (d.registry.sessions.has(player)) return;
      d.registry.goneSince.delete(player);
      const tasks = d.machine.heldBy(player);
      if (tasks.length === 0) return;
      d.log.warn("player lost: ending its tasks", { player, tasks: tasks.length });
      const why = `${player} was gone for more than ${Math.round(d.lostAfterMs / 1000)}s`;
      // Whether they started is unknown: they end interrupted and never run twice.
      for (const t of tasks) d.machine.interrupted(t, why);
      this.kick();
    });
  }

  // ------------------------------------------------------------ placement

  /**
   * Places queued tasks on free players until none can take one (true), or
   * until {@linkcode PLACEMENTS_PER_TURN} are made (false).
   */
  #dispatch(): boolean {
    const { scheduler, machine, registry, committer, clock, log } = this.#d;
    const now = clock.now();
    for (let n = 0; n < PLACEMENTS_PER_TURN; n++) {
      const p = scheduler.next();
      if (!p) return true;
      const t = p.task;
      const session = registry.sessions.get(p.player)!;
      if (t.job.deadline !== null && now > t.job.deadline) {
        machine.expire(t);
      } else if (!session.scores.has(t.job.score)) {
        machine.softFailure(t, {
          player: p.player,
          code: "unknown_score",
          message: `score ${t.job.score} is not installed there`,
        });
      } else {
        machine.assign(t, p.player);
        const msg: Assign = {
          type: "assign",
          task_id: t.id,
          attempt: t.attempt,
          job_id: t.job.id,
          score: t.job.score,
          params: t.job.params,
          timeout_ms: t.job.timeoutMs,
        };
        if (t.job.secret.length > 0) msg.secret = [...t.job.secret];
        committer.afterCommit(() => {
          if (!session.send(msg)) {
            log.info(
              "assignment not sent: the player went away; it is reconciled when it returns",
              {
                player: p.player,
                task: msg.task_id,
              },
            );
          }
        });
      }
      scheduler.placed(p);
    }
    return false;
  }
}

/** The values of a job's secret params that are long enough to mask (see `masking.ts`). */
function jobSecrets(job: TaskRec["job"]): string[] {
  return job.secret.length === 0 ? [] : secretValues(null, job.params, job.secret);
}
