/**
 * The conductor, composed: the store, the clock, the task machine, the
 * scheduler, the players' gateway and the audience service, wired
 * together, started and stopped in order.
 *
 * Every change is recorded in memory and in the open batch at once, and
 * acted on — an assignment sent, a submit answered, a result acknowledged,
 * an event published — only once its batch is committed. A failed commit
 * stops the conductor in order: nothing more is acknowledged.
 *
 * @module
 */

import { errorMessage, OrchError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { ORCH_VERSION, type ReadyCheck, type ReadyView } from "../protocol/mod.ts";
import type { ConductorStore } from "../store/mod.ts";
import type { Address } from "../config/mod.ts";
import { type PlayersFile, readPlayersFile } from "../config/mod.ts";
import { readGrantsFile } from "../config/mod.ts";
import { AccessControl } from "./access.ts";
import { createGuard } from "./guard.ts";
import { LocalAuthenticator } from "./local_auth.ts";
import { withDashboard } from "./dashboard.ts";
import { LocalUsers } from "./local_users.ts";
import {
  createMutualTlsServer,
  listen,
  peerIdentity,
  type TlsMaterial,
  type TlsServer,
} from "../tls/mod.ts";
import { Auditor } from "./audit.ts";
import { FdWatch } from "./fd_watch.ts";
import { ConnectionGuard } from "./conn_limits.ts";
import { type AudienceServers, DEFAULT_AUDIENCE_LIMITS, startAudienceServers } from "./http.ts";
import { startLegacySocket } from "./legacy.ts";
import type { PeerSocket } from "./peer_socket.ts";
import { ThrottledLog } from "./throttle.ts";
import { socketGroupId } from "./socket_group.ts";
import { type ApiHandler, createApiHandler } from "./api.ts";
import { type Clock, systemClock } from "./clock.ts";
import { Committer } from "./committer.ts";
import { EventBus } from "./events.ts";
import { LiveOutputs } from "./live_output.ts";
import { LastSeen } from "./last_seen.ts";
import { EventLog } from "./event_log.ts";
import { DEFAULT_STREAM_LIMITS, EventStreams, type StreamLimits } from "./sse.ts";
import type { LinkOpener } from "./link.ts";
import { TaskMachine } from "./machine.ts";
import { PlayerGateway } from "./players.ts";
import { Registry } from "./registry.ts";
import { Scheduler } from "./scheduler.ts";
import { Schedules } from "./schedules.ts";
import { Pruner } from "./retention.ts";
import { admit } from "./admission.ts";
import { openSealed, type SecretBox } from "./secrets.ts";
import { AudienceService } from "./service.ts";
import { Timers } from "./timers.ts";
import { tlsLink } from "./tls_link.ts";
import { ConductorMetrics } from "./metrics.ts";
import { type MetricsServer, startMetricsServer } from "../metrics/mod.ts";

/** What a conductor needs; configuration is adapted to this at the edge. */
export interface ConductorOptions {
  store: ConductorStore;
  tls: TlsMaterial;
  /** Where players connect; null for no listener (players attach in-process with `connect`). */
  listen: Address | null;
  /** The audience HTTPS API, or null for none. */
  audienceListen: Address | null;
  /** The audience Unix socket, or null for none. */
  audienceSocket: string | null;
  audienceSocketMode: number;
  /** The audience socket's group, a name or a number; null (or absent) leaves the conductor's. */
  audienceSocketGroup?: string | null;
  /** Orchestra's audience socket (`legacy.ts`), or null (absent: none). */
  legacySocket?: string | null;
  legacySocketMode?: number;
  /** Its group, a name or a number; null leaves the conductor's. */
  legacySocketGroup?: string | null;
  playersFile: string;
  /** The grants file; when it does not exist, the built-in grants apply. */
  grantsFile: string;
  heartbeatMs: number;
  maxFrame: number;
  /** First wait before a failed run is retried; it doubles with each failure (capped at 64×). */
  retryBackoffMs: number;
  /** A player gone this long has its running tasks ended interrupted; 0: wait for it for ever. */
  lostAfterMs: number;
  /** Seals secret params for the store (`secrets_key`); without it they live in memory only. */
  secrets?: SecretBox | null;
  /** Limits of the listeners; defaults suit tests. */
  limits?: ListenerLimits;
  /** Bounds of the audience's event streams (`max_event_streams`); defaults when left out. */
  eventStreams?: Partial<StreamLimits>;
  /** Time; the system clock unless a test drives it. */
  clock?: Clock;
  log: Logger;
  /** Finished jobs older than this (ms) are pruned; 0 or absent keeps every job. */
  retentionMs?: number;
  /** Audit records older than this (ms) are pruned; 0 or absent keeps every record. */
  auditRetentionMs?: number;
  /** The Prometheus metrics listener (plain HTTP), or null/absent for none. */
  metricsListen?: Address | null;
  /** Each player's queue in the metrics, labelled by its name (`metrics_per_player`). */
  metricsPerPlayer?: boolean;
  /** Players' last-heard times are written at most this often (ms); {@linkcode LAST_SEEN_FLUSH_MS} when absent. */
  lastSeenFlushMs?: number;
}

/**
 * How often players' last-heard times are written at most: after a crash,
 * the stored time of a connected player is at most this (and one commit) old.
 */
export const LAST_SEEN_FLUSH_MS = 10_000;

/** What each listener allows, so that no peer can use up the conductor's file descriptors. */
export interface ListenerLimits {
  /** A TLS handshake must finish within this time. */
  handshakeMs: number;
  /** An audience request must arrive whole within this time. */
  requestMs: number;
  /** Connections to the players port at most. */
  playersMaxConnections: number;
  /** Connections to the players port from one address at most. */
  playersMaxPerPeer: number;
  /** Connections to each audience listener at most. */
  audienceMaxConnections: number;
  /** Connections to the audience HTTPS port from one address at most. */
  audienceMaxPerPeer: number;
}

/** The limits used when none are given. */
export const DEFAULT_LISTENER_LIMITS: ListenerLimits = {
  handshakeMs: DEFAULT_AUDIENCE_LIMITS.handshakeMs,
  requestMs: DEFAULT_AUDIENCE_LIMITS.requestMs,
  playersMaxConnections: 10_000,
  playersMaxPerPeer: 1000,
  audienceMaxConnections: DEFAULT_AUDIENCE_LIMITS.maxConnections,
  audienceMaxPerPeer: DEFAULT_AUDIENCE_LIMITS.maxPerPeer,
};

/** Where a started conductor listens. */
export interface ConductorAddresses {
  players: Address | null;
  audience: Address | null;
  socket: string | null;
  metrics?: Address | null;
}

/** How a conductor ended. */
export interface Stopped {
  /** The error that stopped it (a failed commit), or null for an ordinary stop. */
  error: unknown;
}

/**
 * Connections Orchestra's audience socket holds at most: each waits on a
 * thread of its own (its reads are blocking C calls).
 */
const LEGACY_MAX_CONNECTIONS = 128;

/** Starts a conductor; resolves once its state is loaded and it listens everywhere. */
export async function startConductor(opts: ConductorOptions): Promise<Conductor> {
  // A group that does not exist is refused before anything is loaded or listens.
  socketGroupId("audience_socket_group", opts.audienceSocketGroup ?? null);
  socketGroupId("legacy_socket_group", opts.legacySocketGroup ?? null);
  const authorised = await readPlayersFile(opts.playersFile);
  const access = await loadAccess(opts.grantsFile);
  const c = new Conductor(opts, authorised, access);
  await c.start();
  return c;
}

/** A running conductor. */
export class Conductor {
  readonly #opts: ConductorOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #committer: Committer;
  readonly #timers: Timers;
  readonly #machine: TaskMachine;
  readonly #registry: Registry;
  readonly #scheduler: Scheduler;
  readonly #gateway: PlayerGateway;
  readonly #lastSeen: LastSeen;
  /** Every state change, published once committed. */
  readonly events = new EventBus();
  /** What running tasks printed lately. */
  readonly live: LiveOutputs;
  /** The audience's event streams, and the log they resume from. */
  readonly streams: EventStreams;
  /** The audience API's backend. */
  readonly service: AudienceService;
  /** The audit trail. */
  readonly audit: Auditor;
  /** Schedules: jobs submitted when they are due. */
  readonly schedules: Schedules;
  /** Retention: old finished jobs and audit records pruned. */
  readonly pruner: Pruner;
  #conductorId = "";
  #access: AccessControl;
  #grantsReload: Promise<void> = Promise.resolve();
  #local: LocalAuthenticator | null = null;
  #server: TlsServer | null = null;
  #audience: AudienceServers | null = null;
  #legacy: PeerSocket | null = null;
  #fdWatch: FdWatch | null = null;
  #metrics: ConductorMetrics | null = null;
  #metricsServer: MetricsServer | null = null;
  #stopping: string | null = null;
  #failed = false;
  #stopped: Promise<void> | null = null;
  #resolveDone: (s: Stopped) => void = () => {};
  /** Resolves once the conductor has stopped, with why. */
  readonly done: Promise<Stopped>;
  addresses: ConductorAddresses | null = null;

  constructor(opts: ConductorOptions, authorised: PlayersFile, access: AccessControl) {
    this.#opts = opts;
    this.#access = access;
    this.#log = opts.log;
    this.#clock = opts.clock ?? systemClock;
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
    this.#committer = new Committer(opts.store, this.events, (err) => this.#fatal(err));
    this.audit = new Auditor(this.#clock, this.#log, {
      append: (r) => this.#committer.audit(r),
      durable: () => this.#committer.durable(),
    });
    this.#timers = new Timers(this.#clock, (err) => {
      this.#log.error("housekeeping failed", { error: errorMessage(err) });
    });
    this.live = new LiveOutputs(this.events, this.#clock);
    this.streams = new EventStreams({
      bus: this.events,
      log: new EventLog(),
      live: this.live,
      clock: this.#clock,
      logger: this.#log,
      // The service's view: with the live count of tasks waiting for offline hosts.
      job: (id) => this.service.job(id),
      connected: () => this.#registry.sessions.size,
    }, { ...DEFAULT_STREAM_LIMITS, ...opts.eventStreams });
    this.#registry = new Registry(authorised, (p) => this.#machine.heldCount(p));
    this.#lastSeen = new LastSeen({
      clock: this.#clock,
      flushMs: opts.lastSeenFlushMs ?? LAST_SEEN_FLUSH_MS,
      touch: (player, at) => {
        if (this.#failed) return;
        const rec = this.#registry.records.get(player);
        if (rec && at > rec.lastSeen) rec.lastSeen = at;
        this.#committer.touchPlayer(player, at);
      },
    });
    // The gateway, made below, runs the scheduler whenever placements wait.
    this.#scheduler = new Scheduler(this.#registry, () => this.#gateway.kick());
    this.#machine = new TaskMachine({
      clock: this.#clock,
      committer: this.#committer,
      scheduler: this.#scheduler,
      timers: this.#timers,
      log: this.#log,
      retryBackoffMs: opts.retryBackoffMs,
      authorised: (p) => this.#registry.authorised.has(p),
      offlineSince: (p) =>
        this.#registry.sessions.has(p) ? null : this.#registry.records.get(p)?.lastSeen ?? 0,
    });
    this.#gateway = new PlayerGateway({
      clock: this.#clock,
      committer: this.#committer,
      machine: this.#machine,
      registry: this.#registry,
      scheduler: this.#scheduler,
      timers: this.#timers,
      bus: this.events,
      live: this.live,
      lastSeen: this.#lastSeen,
      log: this.#log,
      audit: this.audit,
      playersFile: opts.playersFile,
      heartbeatMs: opts.heartbeatMs,
      lostAfterMs: opts.lostAfterMs,
      conductorId: () => this.#conductorId,
      // Failed counts as stopping: nothing more may be recorded (the committer refuses it).
      stopping: () => this.#stopping !== null || this.#failed,
    });
    this.service = new AudienceService({
      store: opts.store,
      clock: this.#clock,
      committer: this.#committer,
      machine: this.#machine,
      registry: this.#registry,
      gateway: this.#gateway,
      bus: this.events,
      live: this.live,
      log: this.#log,
      secrets: opts.secrets ?? null,
      conductorId: () => this.#conductorId,
      state: () => ({ stopping: this.#stopping, failed: this.#failed }),
      ready: () => this.ready(),
    });
    this.schedules = new Schedules({
      clock: this.#clock,
      timers: this.#timers,
      committer: this.#committer,
      audit: this.audit,
      log: this.#log,
      access: () => this.#access,
      submit: (req, caller, accepted, schedule) =>
        this.service.submit(req, caller, accepted, schedule),
      resolve: (req) => this.service.resolve(req),
      admit: (req) =>
        admit(req, {
          authorised: this.#registry.authorised,
          announcement: (p, s) => this.#registry.announcement(p, s),
          anywhere: (s) => this.#registry.anywhere(s),
          knownScores: () => this.#registry.knownScores(),
          now: this.#clock.now(),
        }),
    });
    this.pruner = new Pruner({
      clock: this.#clock,
      timers: this.#timers,
      committer: this.#committer,
      log: this.#log,
      retentionMs: opts.retentionMs ?? 0,
      auditRetentionMs: opts.auditRetentionMs ?? 0,
      prunable: (before) => opts.store.prunable(before),
    });
  }

  /** This database's identity; players use it to spot stale journals. */
  get conductorId(): string {
    return this.#conductorId;
  }

  /** Loads the open work, then starts listening for players and the audience. */
  async start(): Promise<void> {
    const o = this.#opts;
    const snap = await o.store.load();
    openSealed(snap.jobs, o.secrets ?? null);
    this.#machine.load(snap);
    this.#registry.load(snap.players);
    for (const name of snap.drained) this.#registry.drained.add(name);
    if (snap.conductorId !== null) this.#conductorId = snap.conductorId;
    else {
      this.#conductorId = crypto.randomUUID();
      this.#committer.setConductorId(this.#conductorId);
    }
    // The players file may have changed while the conductor was down.
    const dropped = this.#gateway.dropUnlisted();
    if (dropped.ended > 0) {
      this.#log.warn("tasks of players no longer listed ended player_removed", {
        tasks: dropped.ended,
      });
    }
    // Players holding tasks are away until they say hello again.
    this.#gateway.awayAtStart();
    try {
      this.schedules.load(await o.store.schedules());
      await this.#committer.durable();
    } catch (err) {
      this.#stopTimers();
      throw err;
    }

    let players: Address | null = null;
    const limits = o.limits ?? DEFAULT_LISTENER_LIMITS;
    try {
      if (o.listen !== null) {
        const refused = new ThrottledLog(
          this.#log,
          "warn",
          "refused a player connection at the TLS handshake",
          10_000,
          10,
        );
        this.#server = createMutualTlsServer(
          o.tls,
          { handshakeMs: limits.handshakeMs },
          (socket) => {
            const identity = peerIdentity(socket);
            if (!identity || this.#stopping !== null) {
              if (!identity) {
                this.#log.warn("refused a player connection without a verified certificate", {
                  remote: `${socket.remoteAddress}:${socket.remotePort}`,
                });
              }
              socket.destroy();
              return;
            }
            this.#gateway.connect(tlsLink(socket, identity, o, this.#log));
          },
          (reason) => refused.note({ reason }),
        );
        new ConnectionGuard(this.#server, {
          what: "players port",
          maxConnections: limits.playersMaxConnections,
          maxPerPeer: limits.playersMaxPerPeer,
          log: this.#log,
        });
        this.#server.on(
          "error",
          (err) => this.#log.error("players port error", { error: errorMessage(err) }),
        );
        players = await listen(this.#server, o.listen.host, o.listen.port);
      }
      if (o.audienceSocket !== null) {
        this.#local = await LocalAuthenticator.prepare(
          o.audienceSocket,
          o.audienceSocketMode,
          this.#log,
          socketGroupId("audience_socket_group", o.audienceSocketGroup ?? null),
        );
      }
      const guard = createGuard({
        access: () => this.#access,
        local: this.#local,
        users: new LocalUsers(),
        audit: this.audit,
        jobAccess: (id) => o.store.jobAccess(id),
        schedule: (name) => this.schedules.get(name),
        resolve: (req) => this.service.resolve(req),
        log: this.#log,
      });
      let handler = createApiHandler(
        this.service,
        this.#log,
        guard,
        this.schedules,
        this.streams,
        this.pruner,
      );
      if (o.metricsListen) {
        const metrics = new ConductorMetrics({
          bus: this.events,
          machine: this.#machine,
          players: this.#registry,
          clock: this.#clock,
          perPlayer: o.metricsPerPlayer,
        });
        this.#committer.onCommit = (s, n) => metrics.commit(s, n);
        handler = metrics.countApi(handler);
        this.#metrics = metrics;
        this.#metricsServer = await startMetricsServer({
          listen: o.metricsListen,
          registry: metrics.registry,
          log: this.#log,
        });
      }
      if (o.legacySocket) {
        this.#legacy = await startLegacySocket({
          path: o.legacySocket,
          mode: o.legacySocketMode ?? 0o660,
          group: o.legacySocketGroup ?? null,
          handler,
          users: new LocalUsers(),
          requestMs: limits.requestMs,
          maxConnections: Math.min(limits.audienceMaxConnections, LEGACY_MAX_CONNECTIONS),
          log: this.#log,
        });
      }
      this.#audience = await startAudienceOf(o, withDashboard(handler, this.#local), this.#log);
    } catch (err) {
      this.#stopTimers();
      await this.#metricsServer?.stop();
      this.#server?.close();
      await this.#legacy?.stop();
      await this.#local?.close();
      await this.#committer.close();
      await o.store.close();
      throw err;
    }
    this.addresses = {
      players,
      audience: this.#audience.address,
      socket: this.#audience.socket,
      metrics: this.#metricsServer?.address ?? null,
    };
    const playersAt = players;
    this.#fdWatch = new FdWatch(this.#log, async () => {
      if (this.#stopping !== null) return;
      if (this.#server && playersAt) {
        this.#server.close();
        await listen(this.#server, playersAt.host, playersAt.port);
      }
      await this.#audience?.restart();
    });
    this.#log.info("conductor ready", {
      players: players ? `${players.host}:${players.port}` : "off",
      audience: this.#audience.address
        ? `${this.#audience.address.host}:${this.#audience.address.port}`
        : "off",
      socket: this.#audience.socket ?? "off",
      metrics: this.#metricsServer
        ? `${this.#metricsServer.address.host}:${this.#metricsServer.address.port}`
        : undefined,
      authorised: this.#registry.authorised.size,
      open_tasks: this.#machine.size,
      version: ORCH_VERSION,
    });
    this.#logAccess();
    this.#gateway.kick();
    this.pruner.start();
  }

  /** Stops what loading the open work started: a start that fails leaves nothing running. */
  #stopTimers(): void {
    this.#lastSeen.stop();
    this.pruner.stop();
    this.#timers.stop();
  }

  /** Says which grants are in force, and what the built-in ones allow. */
  #logAccess(): void {
    const a = this.#access;
    if (a.source !== null) {
      this.#log.info("grants loaded", { file: a.source, grants: a.grants.length });
      return;
    }
    this.#log.warn(
      "no grants file: only these local users may use the audience API, on the socket; audience certificates may do nothing",
      { file: this.#opts.grantsFile, users: a.grants[0].who.join(",") },
    );
  }

  /**
   * Whether the conductor is fit for work, check by check: the store is
   * open and its last commit succeeded; every configured listener listens;
   * it is not stopping (from SIGTERM, or after a failed commit, until it exits).
   */
  ready(): ReadyView {
    const down: string[] = [];
    if (this.#server && !this.#server.listening) down.push("players port");
    if (this.#audience && !this.#audience.listening()) down.push("audience");
    const starting = this.addresses === null;
    const checks: ReadyCheck[] = [
      {
        name: "store",
        ok: !this.#failed,
        detail: this.#failed
          ? "a commit failed: the database is not writable"
          : "open; the last commit succeeded",
      },
      {
        name: "listeners",
        ok: !starting && down.length === 0,
        detail: starting
          ? "not listening yet"
          : down.length > 0
          ? `not listening: ${down.join(", ")}`
          : "listening",
      },
      {
        name: "stopping",
        ok: this.#stopping === null,
        detail: this.#stopping ?? "running",
      },
    ];
    const failed = checks.filter((c) => !c.ok).map((c) => c.name);
    return { ready: failed.length === 0, failed, checks };
  }

  /** Takes a player connection made in-process (tests, benchmarks). */
  connect(open: LinkOpener): void {
    if (this.#stopping !== null) return;
    this.#gateway.connect(open);
  }

  /**
   * Re-reads the grants file; a bad one is refused whole (the grants in
   * force stay) with an error naming FILE:LINE.
   */
  reloadGrants(): Promise<void> {
    // One reload at a time, in order: a slow read must not win over a later one.
    const next = this.#grantsReload.then(async () => {
      this.#access = await loadAccess(this.#opts.grantsFile);
      this.#logAccess();
    });
    this.#grantsReload = next.catch(() => {});
    return next;
  }

  /**
   * Re-reads the players file. A player no longer listed is disconnected,
   * and its tasks end `player_removed` at once; nothing is left dangling.
   */
  async reload(): Promise<{ added: string[]; removed: string[] }> {
    const next = await readPlayersFile(this.#opts.playersFile);
    if (this.#stopping !== null) return { added: [], removed: [] };
    const before = this.#registry.authorised;
    const removed = [...before.keys()].filter((n) => !next.has(n));
    const added = [...next.keys()].filter((n) => !before.has(n));
    // Queue entries stay: a player no longer listed is never free, and one listed again finds
    // the one-of tasks still waiting for it.
    this.#registry.authorised = next;
    const dropped = this.#gateway.dropUnlisted();
    await this.#committer.durable();
    for (const name of removed) {
      const s = this.#registry.sessions.get(name);
      if (!s) continue;
      // Its running scores are stopped first: their results can no longer be delivered.
      for (const t of dropped.held.filter((x) => x.host === name)) {
        s.send({ type: "cancel", task_id: t.task_id, attempt: t.attempt });
      }
      this.#gateway.refuse(s, "forbidden", `${name} was removed from the players file`);
    }
    this.#log.info("players file reloaded", {
      players: next.size,
      added: added.join(",") || undefined,
      removed: removed.join(",") || undefined,
    });
    for (const name of added) this.#scheduler.playerFree(name);
    this.#gateway.kick();
    return { added, removed };
  }

  #fatal(err: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#log.error("database write failed; stopping", { error: errorMessage(err) });
    this.#stop("the conductor's database failed; it is stopping", err).catch((e) =>
      this.#log.error("stopping after the failure failed", { error: errorMessage(e) })
    );
  }

  /**
   * Stops at once and writes nothing more — what is pending is dropped, never
   * acknowledged: this conductor may no longer write (it lost the leadership).
   */
  abandon(why: string): Promise<void> {
    this.#failed = true;
    // First of all: nothing pending is committed or acted on, and no player hears more.
    this.#committer.abandon(new OrchError("unavailable", why));
    this.#gateway.closeAll("the conductor failed");
    return this.#stop(why, null);
  }

  /** Stops accepting, closes every connection, commits what is pending, closes the store. */
  stop(): Promise<void> {
    return this.#stop("the conductor is shutting down", null);
  }

  #stop(why: string, error: unknown): Promise<void> {
    this.#stopped ??= (async () => {
      this.#stopping = why;
      this.#lastSeen.stop();
      this.pruner.stop();
      this.#timers.stop();
      this.#fdWatch?.stop();
      const server = this.#server;
      const closing = server
        ? new Promise<void>((r) => server.close(() => r()))
        : Promise.resolve();
      // Waiting clients are answered now, so that the audience servers can drain.
      this.events.closeAll(why);
      this.streams.closeAll(why);
      await this.#audience?.stop();
      await this.#metricsServer?.stop();
      await this.#legacy?.stop();
      await this.#local?.close();
      if (!this.#failed) {
        // An ordinary stop is mostly a restart: players are told when to come back, spread out.
        const told = this.#gateway.askToReconnect();
        if (told.players > 0) {
          this.#log.info("players told to reconnect", {
            players: told.players,
            within_ms: told.windowMs,
          });
        }
      }
      this.#gateway.closeAll(this.#failed ? "the conductor failed" : "the conductor is stopping");
      await closing;
      if (!this.#failed) {
        // The players' last frames, exactly: an ordinary stop loses nothing of them.
        try {
          this.#lastSeen.flush();
        } catch (err) {
          this.#log.error("players' last-seen times not written", { error: errorMessage(err) });
        }
        await this.#committer.close().catch((err) => {
          this.#log.error("last commit failed", { error: errorMessage(err) });
        });
      }
      await this.#opts.store.close();
      this.#log.info("conductor stopped", this.#failed ? { after: "a database failure" } : {});
      this.#resolveDone({ error });
    })();
    return this.#stopped;
  }
}

/** The grants of `file`, or the built-in ones when it does not exist. */
async function loadAccess(file: string): Promise<AccessControl> {
  const grants = await readGrantsFile(file);
  if (grants !== null) return new AccessControl(grants, file);
  return AccessControl.builtIn(await new LocalUsers().nameOf(Deno.uid() ?? 0));
}

/**
 * The audience listeners `o` configures (its socket and HTTPS port, with
 * its limits), serving `handler`: the conductor's API, or a standby's
 * answers.
 */
export function startAudienceOf(
  o: Omit<ConductorOptions, "store">,
  handler: ApiHandler,
  log: Logger,
): Promise<AudienceServers> {
  const limits = o.limits ?? DEFAULT_LISTENER_LIMITS;
  return startAudienceServers({
    handler,
    tls: o.tls,
    listen: o.audienceListen,
    socket: o.audienceSocket,
    socketMode: o.audienceSocketMode,
    socketGid: socketGroupId("audience_socket_group", o.audienceSocketGroup ?? null),
    limits: {
      handshakeMs: limits.handshakeMs,
      requestMs: limits.requestMs,
      maxConnections: limits.audienceMaxConnections,
      maxPerPeer: limits.audienceMaxPerPeer,
    },
    log,
  });
}
