/**
 * Several conductors on one PostgreSQL database, one leading at a time.
 *
 * Leadership is PostgreSQL's advisory lock, held by a session of its own
 * (not one of the store's pool) whose `idle_session_timeout` is the lease: a
 * leader that stops talking (paused, cut off) loses the session, and so the
 * lock, within the lease; one that dies loses it at once.
 *
 * A standby polls for the lock, reads who leads from the one-row table
 * `orch_leader`, and serves nothing but that: `/v1/health` (role standby),
 * `/v1/ready` 503, every other audience request 503 `not_leader` naming the
 * leader's audience address (or the leader, when it serves no audience HTTPS
 * port), and every player's hello a `not_leader`
 * refusal naming the leader's players address and the ceiling of the
 * player's waits before it dials the standby again ({@linkcode standbyRetryMs}).
 *
 * Taking over: the epoch is bumped (with this conductor's name and
 * addresses), THEN the queue is loaded and the conductor starts, with a
 * store whose every write first checks that epoch (the fence, `FOR SHARE`,
 * which conflicts with a new leader's bump): a write of an old leader either
 * commits before the takeover — and the new leader, which loads after it,
 * sees it — or fails, and is never acknowledged.
 *
 * Losing it (the heartbeat fails, the session ends, a write fails): the
 * conductor stops at once without writing or acknowledging anything more,
 * and this conductor goes back to standby, reconnecting with a bounded
 * backoff while the database is away. The process never exits for it.
 *
 * @module
 */

import type net from "node:net";
import { errorMessage, NotLeaderError, OrchError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type Address, readPlayersFile } from "../config/mod.ts";
import { encodeFrame, ORCH_VERSION, type ReadyView } from "../protocol/mod.ts";
import { PgStore, type PgTlsOptions } from "../store/pg_store.ts";
import {
  LEADER_LOCK_KEY,
  newPgSession,
  parsePgUrl,
  type PgSession,
  tlsHint,
} from "../store/pg_store.ts";
import { createMutualTlsServer, listen, type TlsServer } from "../tls/mod.ts";
import { type ApiHandler, errorResponse } from "./api.ts";
import { type Conductor, type ConductorOptions, DEFAULT_LISTENER_LIMITS } from "./conductor.ts";
import { startAudienceOf, startConductor } from "./conductor.ts";
import { ConnectionGuard } from "./conn_limits.ts";
import { notLeaderRefusal } from "./handshake.ts";
import type { AudienceServers } from "./http.ts";

/** How often a standby asks for the lock. */
export const STANDBY_POLL_MS = 250;
/** Longest wait between two attempts to reach the database. */
const MAX_BACKOFF_MS = 5_000;
/** First wait after a failed attempt to reach the database. */
const MIN_BACKOFF_MS = 250;
/** The advisory lock of leadership (advisory locks are per database). "orchlead". */
const LEADER_LOCK = LEADER_LOCK_KEY;
/** A refused player's connection is closed after this at most. */
const REFUSE_CLOSE_MS = 5_000;

/**
 * Hellos a standby is willing to refuse a second, all its players together:
 * each is a mutual-TLS handshake for nothing, about 1 ms of CPU (0.95 ms
 * measured by `tests/bench/standby_refusals.ts` on a 2-core machine), so
 * about one core. The wait it asks of each player ({@linkcode standbyRetryMs})
 * keeps a whole fleet dialling it under this rate, so that a takeover is not
 * slowed by refusals.
 */
export const STANDBY_HELLOS_PER_S = 1_000;

/**
 * The ceiling of the waits a standby asks of each player it refuses
 * (`retry_ms`). A player draws its wait up to it (after a few quicker
 * first tries), half of it on average, so the ceiling is twice the fleet's
 * size over {@linkcode STANDBY_HELLOS_PER_S}: at least 1 s (a small fleet
 * finds the new leader at once), at most a minute.
 */
export function standbyRetryMs(players: number): number {
  return Math.min(60_000, Math.max(1_000, Math.ceil(players * 2000 / STANDBY_HELLOS_PER_S)));
}

/** Who leads, as the leader row says. */
export interface LeaderInfo {
  epoch: number;
  name: string | null;
  /** The players address standbys name to players. */
  player: string | null;
  /** The audience HTTPS address standbys name to clients. */
  audience: string | null;
  /** When it took over (epoch ms). */
  since: number | null;
}

// ------------------------------------------------------------ the lock session

/** How long closing the session waits for an orderly end before cutting the socket. */
const CLOSE_WAIT_MS = 1_000;

/** The oldest PostgreSQL the lease works on (`idle_session_timeout` came in 14). */
export const MIN_SERVER_VERSION = 140000;

/**
 * Why a server of `server_version_num` `num` cannot hold the leadership, or
 * null when it can.
 */
export function serverVersionProblem(num: number): string | null {
  if (Number.isSafeInteger(num) && num >= MIN_SERVER_VERSION) return null;
  const shown = Number.isSafeInteger(num) && num > 0
    ? `${Math.floor(num / 10000)}.${num % 10000}`
    : "unknown";
  return `the conductor database's PostgreSQL is version ${shown}; several conductors need PostgreSQL 14 or later (the lease is its idle_session_timeout)`;
}

/** How the lock session reaches the database. */
export interface LockSessionOptions {
  url: string;
  password?: string;
  tls: PgTlsOptions;
  leaseMs: number;
}

/** The dedicated session that holds (or asks for) the leadership lock. */
export class LockSession {
  readonly #client: PgSession;
  readonly #leaseMs: number;
  /** Resolves with why, once the session has ended (an error, the server closed it). */
  readonly lost: Promise<string>;
  #resolveLost: (why: string) => void = () => {};
  #closed = false;

  private constructor(client: PgSession, leaseMs: number) {
    this.#client = client;
    this.#leaseMs = leaseMs;
    this.lost = new Promise((r) => (this.#resolveLost = r));
    client.on("error", (err) => this.#resolveLost(errorMessage(err)));
    client.on("end", () => this.#resolveLost("the database closed the session"));
  }

  /** Connects, and sets the lease as the session's idle timeout. */
  static async open(o: LockSessionOptions): Promise<LockSession> {
    const t = parsePgUrl(o.url);
    const client = newPgSession(o.url, { password: o.password, tls: o.tls }, {
      connectMs: Math.max(1_000, o.leaseMs),
      // A bound on every statement, server side and client side.
      statementMs: 4 * o.leaseMs,
      queryMs: 5 * o.leaseMs,
      name: "orch conductor leadership",
    });
    const s = new LockSession(client, o.leaseMs);
    let version: string | null;
    try {
      await client.connect();
      const r = await client.query("SELECT current_setting('server_version_num') AS v");
      const num = Number(r.rows[0]?.v);
      version = serverVersionProblem(num);
      if (version !== null) await s.close();
    } catch (err) {
      await s.close();
      const hint = tlsHint(err);
      throw new OrchError(
        "unavailable",
        `cannot open the leadership session on ${t.shown}: ${errorMessage(err)}`,
        hint === null ? undefined : { hint },
      );
    }
    // An old server is a configuration to change, not an outage to wait out.
    if (version !== null) {
      throw new OrchError("config", `${version} (${t.shown})`, {
        hint: "upgrade the server, or run one conductor on a SQLite store",
      });
    }
    try {
      // The lease, exactly: a session silent this long is ended by the server, freeing the lock.
      await client.query(`SET idle_session_timeout = ${Math.trunc(o.leaseMs)}`);
    } catch (err) {
      await s.close();
      throw new OrchError(
        "unavailable",
        `cannot open the leadership session on ${t.shown}: ${errorMessage(err)}`,
      );
    }
    return s;
  }

  /** Asks for the lock once; true when this session holds it. */
  async tryLock(): Promise<boolean> {
    const r = await this.#client.query("SELECT pg_try_advisory_lock($1::bigint) AS ok", [
      LEADER_LOCK,
    ]);
    return r.rows[0]?.ok === true;
  }

  /** The leader row, or null when the schema has none yet. */
  async leader(): Promise<LeaderInfo | null> {
    try {
      const r = await this.#client.query(
        "SELECT epoch::text AS epoch, name, player_address, audience_address, since::text AS since FROM orch_leader WHERE id = 1",
      );
      const row = r.rows[0];
      if (!row) return null;
      return {
        epoch: Number(row.epoch),
        name: row.name as string | null,
        player: row.player_address as string | null,
        audience: row.audience_address as string | null,
        since: row.since === null ? null : Number(row.since),
      };
    } catch (err) {
      // 42P01: no such table (no leader has ever brought the schema up).
      if ((err as { code?: unknown }).code === "42P01") return null;
      throw err;
    }
  }

  /** Bumps the epoch, naming this conductor; the new epoch. Only while holding the lock. */
  async takeOver(me: { name: string; player: string | null; audience: string | null }) {
    const r = await this.#client.query(
      `UPDATE orch_leader SET epoch = epoch + 1, name = $1, player_address = $2,
         audience_address = $3, since = $4 WHERE id = 1 RETURNING epoch::text AS epoch`,
      [me.name, me.player, me.audience, Date.now()],
    );
    const epoch = Number(r.rows[0]?.epoch);
    if (!Number.isSafeInteger(epoch)) {
      throw new OrchError("internal", "the leader row is missing from the conductor database");
    }
    return epoch;
  }

  /**
   * One round trip; throws when the session is gone, or when no answer came
   * within twice the lease. The bound is loose on purpose: a heartbeat may
   * wait behind the takeover's update (which waits up to a lease for a
   * paused leader's transaction), or behind a busy event loop; a session
   * really silent for the lease is ended by the server, which fails this
   * at once.
   */
  async heartbeat(): Promise<void> {
    const bound = 2 * this.#leaseMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        this.#client.query("SELECT 1"),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${bound} ms`)), bound);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends the session (and so frees the lock, if held). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#resolveLost("closed");
    // An orderly end waits for the socket to close, which on a cut-off network may take hours.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ended = await Promise.race([
      this.#client.end().then(() => true, () => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), CLOSE_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (!ended) this.#client.connection?.stream?.destroy();
  }
}

/**
 * Keeps a session that holds the lock alive: a round trip every fifth of
 * the lease, from the moment the lock is taken until it is let go — through
 * the takeover (schema, listeners, queue load) as well as while leading.
 */
class Heartbeat {
  /** Resolves with why once a heartbeat fails (never when stopped first). */
  readonly failed: Promise<string>;
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wake: () => void = () => {};

  constructor(session: LockSession, leaseMs: number) {
    const every = Math.max(100, Math.trunc(leaseMs / 5));
    this.failed = (async () => {
      while (!this.#stopped) {
        await new Promise<void>((r) => {
          this.#wake = r;
          this.#timer = setTimeout(r, every);
        });
        if (this.#stopped) break;
        try {
          await session.heartbeat();
        } catch (err) {
          if (!this.#stopped) return `the heartbeat failed: ${errorMessage(err)}`;
        }
      }
      return new Promise<string>(() => {});
    })();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#wake();
  }
}

// ------------------------------------------------------------ standby answers

/** The audience API of a standby: health, ready 503, and 503 not_leader for the rest. */
export function standbyHandler(leader: () => LeaderInfo | null): ApiHandler {
  return (req) => {
    const path = new URL(req.url).pathname;
    const l = leader();
    const json = (status: number, body: unknown) =>
      Promise.resolve(
        new Response(JSON.stringify(body), {
          status,
          headers: { "content-type": "application/json" },
        }),
      );
    if (path === "/v1/health" && req.method === "GET") {
      return json(200, {
        ok: true,
        role: "standby",
        leader: l?.name ?? null,
        leader_audience: l?.audience ?? null,
        version: ORCH_VERSION,
      });
    }
    if (path === "/v1/ready" && req.method === "GET") {
      const view: ReadyView = {
        ready: false,
        failed: ["store"],
        // The store is the leader's to write: that is the check a standby fails.
        checks: [{
          name: "store",
          ok: false,
          detail: `standby; the leader is ${l?.name ?? "not known yet"}`,
        }],
      };
      return json(503, view);
    }
    const at = l?.audience ?? null;
    const name = l?.name ?? null;
    // A leader without an audience HTTPS port is still named: it is reached on its host's socket.
    const message = at !== null
      ? `this conductor is a standby; the leader is ${at}`
      : name !== null
      ? `this conductor is a standby; the leader is ${name}, which serves no audience HTTPS port`
      : "this conductor is a standby; no leader is known yet";
    const hint = at === null && name !== null
      ? "run the command on the leader's host, over its audience socket (--socket PATH), or give the leader an audience_listen address"
      : "send it to the leader; give the CLI every conductor (--conductor A,B)";
    return Promise.resolve(errorResponse(new NotLeaderError(message, at, { hint })));
  };
}

/** A standby's listeners: the players port refusing every hello, and the audience's. */
class StandbyServers {
  #players: TlsServer | null = null;
  #audience: AudienceServers | null = null;
  /** Every connection to the players port, from its first byte (before the handshake). */
  readonly #sockets = new Set<net.Socket>();

  /** Listens where the conductor would; the addresses bound. */
  async start(
    o: Omit<ConductorOptions, "store">,
    leader: () => LeaderInfo | null,
  ): Promise<{ players: Address | null; audience: Address | null }> {
    const limits = o.limits ?? DEFAULT_LISTENER_LIMITS;
    let players: Address | null = null;
    try {
      if (o.listen !== null) {
        // Sized to the fleet the players file lists (one that cannot be read: the shortest wait).
        const listed = await readPlayersFile(o.playersFile).then((p) => p.size, () => 0);
        const retryMs = standbyRetryMs(listed);
        const server = createMutualTlsServer(
          o.tls,
          { handshakeMs: limits.handshakeMs },
          (socket) => {
            // The hello comes first; whatever it says, the answer is the refusal.
            const frame = encodeFrame(notLeaderRefusal(leader()?.player ?? null, retryMs));
            const closeAnyway = setTimeout(() => socket.destroy(), REFUSE_CLOSE_MS);
            socket.once("data", () => socket.end(frame));
            socket.on("close", () => clearTimeout(closeAnyway));
            socket.on("error", () => {});
          },
          () => {},
        );
        server.on("connection", (socket: net.Socket) => {
          this.#sockets.add(socket);
          socket.once("close", () => this.#sockets.delete(socket));
        });
        new ConnectionGuard(server, {
          what: "players port",
          maxConnections: limits.playersMaxConnections,
          maxPerPeer: limits.playersMaxPerPeer,
          log: o.log,
        });
        server.on(
          "error",
          (err) => o.log.error("players port error", { error: errorMessage(err) }),
        );
        this.#players = server;
        players = await listen(server, o.listen.host, o.listen.port);
      }
      this.#audience = await startAudienceOf(o, standbyHandler(leader), o.log);
    } catch (err) {
      await this.stop();
      throw err;
    }
    return { players, audience: this.#audience.address };
  }

  /** Stops listening and cuts off every connection at once: a takeover waits on no peer. */
  async stop(): Promise<void> {
    const players = this.#players;
    this.#players = null;
    if (players) {
      const closed = new Promise<void>((r) => players.close(() => r()));
      // Refused players, half-open handshakes, idle probes: none is waited for.
      for (const socket of this.#sockets) socket.destroy();
      this.#sockets.clear();
      await closed;
    }
    const audience = this.#audience;
    this.#audience = null;
    await audience?.stop();
  }
}

// ------------------------------------------------------------ the loop

/** What {@linkcode Leadership} needs. */
export interface LeadershipOptions {
  /** The store's URL (no password in it) and how to reach it. */
  url: string;
  password?: string;
  tls: PgTlsOptions;
  /** Whether the schema may be created when the database has none (`--init`). */
  create: boolean;
  /** The lease (ms): a leader unheard of this long loses its session. */
  leaseMs: number;
  /** This conductor's name in the leader row. */
  name: string;
  /** The players and audience addresses to name while leading; null derives them. */
  advertisePlayer: string | null;
  advertiseAudience: string | null;
  /** The conductor's options, but for its store (opened at each takeover). */
  conductor: Omit<ConductorOptions, "store">;
  /** Told of each conductor started as leader. */
  onLeader?: (c: Conductor) => void;
}

/** The current role. */
export type Role = "connecting" | "standby" | "leader" | "stopped";

/** Runs a conductor that leads when it holds the lock and stands by otherwise. */
export class Leadership {
  readonly #o: LeadershipOptions;
  readonly #log: Logger;
  #role: Role = "connecting";
  #leader: LeaderInfo | null = null;
  #conductor: Conductor | null = null;
  #standby = new StandbyServers();
  #standbyUp = false;
  /** Where the listeners are, once bound (a port of 0 is kept from the first bind). */
  #opts: Omit<ConductorOptions, "store">;
  #stopping = false;
  #wake: () => void = () => {};
  readonly #stopped: Promise<void>;
  #resolveStopped: () => void = () => {};
  /** Resolves once it has stopped, with the error that stopped it (null on a stop asked for). */
  readonly done: Promise<{ error: unknown }>;

  constructor(o: LeadershipOptions) {
    this.#o = o;
    this.#log = o.conductor.log;
    this.#opts = { ...o.conductor };
    this.#stopped = new Promise((r) => (this.#resolveStopped = r));
    this.done = this.#run().then(
      () => ({ error: null }),
      (error) => ({ error }),
    );
  }

  get role(): Role {
    return this.#role;
  }

  /** The leading conductor, while this one leads. */
  get conductor(): Conductor | null {
    return this.#conductor;
  }

  /** Stops: the conductor in order when leading, the standby's listeners, the session. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#resolveStopped();
    this.#wake();
    await this.done;
  }

  /** Waits `ms`, or less when stopping. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.#wake = done;
    });
  }

  async #run(): Promise<void> {
    let backoff = MIN_BACKOFF_MS;
    let unreachable = false;
    try {
      while (!this.#stopping) {
        let session: LockSession;
        try {
          session = await LockSession.open({
            url: this.#o.url,
            password: this.#o.password,
            tls: this.#o.tls,
            leaseMs: this.#o.leaseMs,
          });
        } catch (err) {
          if (err instanceof OrchError && err.code === "config") throw err;
          if (!unreachable) {
            this.#log.warn("cannot reach the conductor database; trying again", {
              error: errorMessage(err),
              hint: err instanceof OrchError ? err.hint : undefined,
            });
            unreachable = true;
          }
          // A standby that cannot see the database still answers health, naming no leader.
          try {
            await this.#enterStandby(null);
          } catch (e) {
            // Like any other failure here: said, and tried again after the backoff.
            if (e instanceof OrchError && e.code === "config") throw e;
            if (!this.#stopping) {
              this.#log.warn("cannot start the standby's listeners; trying again", {
                error: errorMessage(e),
              });
            }
          }
          await this.#sleep(backoff);
          backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
          continue;
        }
        if (unreachable) this.#log.info("reached the conductor database again");
        unreachable = false;
        backoff = MIN_BACKOFF_MS;
        try {
          if (await this.#waitForLock(session)) {
            // From here on the session is kept alive for as long as it holds the lock.
            const beat = new Heartbeat(session, this.#o.leaseMs);
            try {
              await this.#lead(session, beat.failed);
            } finally {
              beat.stop();
            }
          }
        } catch (err) {
          if (err instanceof OrchError && err.code === "config") throw err;
          if (!this.#stopping) {
            this.#log.warn("the leadership session failed; trying again", {
              error: errorMessage(err),
            });
            await this.#sleep(backoff);
          }
        } finally {
          await session.close();
        }
      }
    } finally {
      this.#role = "stopped";
      await this.#standby.stop();
      this.#standbyUp = false;
    }
  }

  /** Starts the standby's listeners, once; logs the role change. */
  async #enterStandby(leader: LeaderInfo | null): Promise<void> {
    this.#leader = leader;
    if (this.#standbyUp) return;
    const bound = await this.#standby.start(this.#opts, () => this.#leader);
    this.#standbyUp = true;
    // The ports bound are kept: a conductor told to listen on port 0 keeps the one it got.
    if (bound.players) this.#opts = { ...this.#opts, listen: bound.players };
    if (bound.audience) this.#opts = { ...this.#opts, audienceListen: bound.audience };
    this.#role = "standby";
    this.#log.info("standby: another conductor may lead; serving health only", {
      players: bound.players ? show(bound.players) : "off",
      audience: bound.audience ? show(bound.audience) : "off",
      socket: this.#opts.audienceSocket ?? "off",
      name: this.#o.name,
    });
  }

  /** Polls for the lock as a standby; true once held, false when stopping. */
  async #waitForLock(session: LockSession): Promise<boolean> {
    let named: string | null | undefined = undefined;
    while (!this.#stopping) {
      if (await session.tryLock()) return true;
      const leader = await session.leader();
      await this.#enterStandby(leader);
      const name = leader?.name ?? null;
      if (name !== named) {
        this.#log.info("the leader is", {
          leader: name ?? "unknown",
          players: leader?.player ?? undefined,
          audience: leader?.audience ?? undefined,
          epoch: leader?.epoch,
        });
        named = name;
      }
      await this.#sleep(STANDBY_POLL_MS);
    }
    return false;
  }

  /** Takes over, leads until the leadership is lost or a stop is asked for. */
  async #lead(session: LockSession, beat: Promise<string>): Promise<void> {
    const o = this.#o;
    let early: string | null = null;
    beat.then((why) => (early = why));
    const previous = await session.leader();
    await this.#standby.stop();
    this.#standbyUp = false;
    if (this.#stopping) return;
    const me = {
      name: o.name,
      player: o.advertisePlayer ?? advertised(this.#opts.listen),
      audience: o.advertiseAudience ?? advertised(this.#opts.audienceListen),
    };
    // The schema is brought up under the lock: no other conductor migrates meanwhile. When
    // there is a leader row, the epoch moves first, so that a deposed leader whose pool still
    // works can write nothing during the migration (its writes fail the fence).
    const epochFirst = previous !== null;
    let epoch = epochFirst ? await session.takeOver(me) : 0;
    const check = await PgStore.open(o.url, { password: o.password, tls: o.tls, create: o.create });
    await check.close();
    if (!epochFirst) epoch = await session.takeOver(me);
    // Every write checks the epoch; a transaction left open by a paused leader is ended within
    // the lease, so that a new leader's takeover never waits on it for ever.
    const fence = `SELECT set_config('idle_in_transaction_session_timeout', '${
      Math.trunc(o.leaseMs)
    }', true) FROM orch_leader WHERE id = 1 AND epoch = ${epoch} FOR SHARE`;
    const store = await PgStore.open(o.url, {
      password: o.password,
      tls: o.tls,
      fence,
      warn: (message, fields) => this.#log.warn(message, fields as Record<string, string>),
    });
    let conductor: Conductor;
    try {
      if (early !== null) throw new OrchError("unavailable", `lost the lock: ${early}`);
      this.#log.info("leading: took the leadership", { epoch, name: o.name });
      conductor = await startConductor({ ...this.#opts, store });
    } catch (err) {
      await store.close();
      throw err;
    }
    this.#conductor = conductor;
    this.#role = "leader";
    o.onLeader?.(conductor);
    const lost = await Promise.race([
      conductor.done.then((s) =>
        s.error === null ? "the conductor stopped" : `a write failed: ${errorMessage(s.error)}`
      ),
      session.lost.then((why) => `the leadership session ended: ${why}`),
      beat,
      this.#stopped.then(() => null),
    ]);
    try {
      if (lost === null || this.#stopping) {
        await conductor.stop();
        return;
      }
      this.#log.error("lost the leadership; stopping at once, nothing more is acknowledged", {
        why: lost,
        epoch,
      });
      await conductor.abandon("this conductor lost the leadership");
    } finally {
      this.#conductor = null;
    }
  }
}

/** An address as messages show it. */
function show(a: Address): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** The address others should dial for `a`: the host name for an address of every interface. */
export function advertised(a: Address | null): string | null {
  if (a === null) return null;
  if (a.host === "0.0.0.0" || a.host === "::" || a.host === "") {
    return show({ host: Deno.hostname(), port: a.port });
  }
  return show(a);
}
