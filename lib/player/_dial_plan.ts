/**
 * Which conductor a player dials next, and how long it waits first: the
 * decisions of its connection loop, apart from the connections themselves
 * (so that they can be tested without a network or a clock).
 *
 * The conductors are dialled in order; after each connection (failed or
 * ended) the next one is, at once, except after a full round of dials
 * without a welcome, which waits the backoff. A "not the leader" refusal
 * naming the leader dials it next. A conductor that closed with a
 * `reconnect` notice is followed by its delay, and rounds then wait its
 * retry interval instead of the backoff, for {@linkcode NOTICE_FOR_MS} or
 * until a conductor welcomes this player.
 *
 * A standby's "not the leader" refusal is not one that waiting will not
 * mend: a standby leads as soon as the leader is gone (the database back,
 * the lease run out). It leaves a notice in force (after a planned restart
 * of the leader, its standby refuses until it has taken over). When a round
 * found only standbys (or nobody there), the backoff's ceiling is the one a
 * standby gave (`retry_ms`, sized to the fleet so that the hellos it refuses
 * stay at a rate it bears): the first retries stay quick (a takeover takes
 * a moment), a long wait settles at the standby's pace. A standby that gives
 * none counts as a conductor that is not there for the ceiling.
 *
 * @module
 */

import type { Address } from "../config/mod.ts";
import { sameAddress } from "../protocol/mod.ts";
import type { Backoff } from "./backoff.ts";

/** A conductor's `reconnect`: when to dial again after it closes, and then how often. */
export interface Notice {
  delayMs: number;
  retryMs: number;
}

/** How one connection to a conductor ended. */
export type SessionEnd =
  /**
   * It could not be made: `down` when nothing took the TCP connection (see
   * `Backoff`); `refused` when the TLS handshake refused the conductor's
   * certificate, `hint` saying how to fix that.
   */
  | { kind: "unreachable"; why: string; down: boolean; refused: boolean; hint?: string }
  /**
   * It closed; `welcomed` when the conductor had welcomed this player;
   * `notice` when the conductor said when to come back.
   */
  | { kind: "closed"; why: string; welcomed: boolean; notice?: Notice }
  /** The conductor refused the hello. */
  | {
    kind: "refused";
    code: string;
    why: string;
    leader: Address | null;
    /** A standby's `retry_ms`: the ceiling of this player's waits it asks for, or null. */
    retryMs?: number | null;
  }
  /** The player is stopping. */
  | { kind: "stopping" };

/** A welcomed connection shorter than this does not begin a new round of dials. */
export const STABLE_SESSION_MS = 3_000;
/**
 * After a conductor's `reconnect`, how long the player dials at the interval
 * it was given before it falls back to its backoff: a restart takes seconds;
 * a conductor away for longer is waited for like one that went away unannounced.
 */
export const NOTICE_FOR_MS = 60_000;

/** What the loop does after a connection ended. */
export interface Step {
  /** The conductor to dial next. */
  next: Address;
  /** The connection was welcomed and lasted: the lines logged on leaving may be logged again. */
  stable: boolean;
  /**
   * A conductor's notice holds: a conductor not there, not yet leading, or
   * closing before its welcome is what a planned restart looks like.
   */
  noticed: boolean;
  /** The notice the connection ended with, when it came with one. */
  notice: Notice | null;
  /**
   * The wait before dialling `next`, or null to dial it at once: the
   * notice's delay or retry interval (`notice`), or the backoff's
   * (`backoff`, with the cap it was drawn under).
   */
  wait:
    | { ms: number; why: "notice" }
    | { ms: number; why: "backoff" | "standby"; capMs: number }
    | null;
}

/** The state of a player's dialling, from one connection to the next. */
export class DialPlan {
  readonly #list: readonly Address[];
  readonly #backoff: Backoff;
  readonly #random: () => number;
  readonly #now: () => number;
  /** Index in the list of the next conductor to dial. */
  #at = 0;
  /** A leader named by a refusal that is not in the list, dialled next. */
  #redirect: Address | null = null;
  /** Dials since the round began (a welcome begins one). */
  #tried = 0;
  /** Every dial of this round found no conductor there, or a standby (the backoff's shorter cap). */
  #allDown = true;
  /** The last notice, while it holds: its retry interval and until when (`now` ms). */
  #notice: { retryMs: number; until: number } | null = null;
  /** The highest ceiling a standby gave in this round (`retry_ms`), or 0. */
  #standbyMs = 0;

  /**
   * @param list The conductors, in the order they are dialled (at least one).
   * @param backoff The waits between rounds.
   * @param random Spreads the notice's interval (±10 %).
   * @param now A monotonic clock (ms), for how long a notice holds.
   */
  constructor(
    list: readonly Address[],
    backoff: Backoff,
    random: () => number = Math.random,
    now: () => number = () => performance.now(),
  ) {
    if (list.length === 0) throw new RangeError("a player needs a conductor address");
    this.#list = list;
    this.#backoff = backoff;
    this.#random = random;
    this.#now = now;
  }

  /** The conductor to dial now. */
  target(): Address {
    return this.#redirect ?? this.#list[this.#at];
  }

  /**
   * After the connection to `target` ended with `end`, having lasted
   * `lastedMs` from its dial: where to go next, and how long to wait first.
   */
  after(target: Address, end: Exclude<SessionEnd, { kind: "stopping" }>, lastedMs: number): Step {
    const list = this.#list;
    this.#redirect = null;
    const welcomed = end.kind === "closed" && end.welcomed;
    // A welcome begins a new round only when the connection then lasted: conductors that
    // welcome and close at once are not redialled without a pause.
    const stable = welcomed && lastedMs >= STABLE_SESSION_MS;
    this.#tried = stable ? 1 : this.#tried + 1;
    // Likewise the backoff starts over only then.
    if (stable) {
      this.#backoff.reset();
      this.#allDown = true;
      this.#standbyMs = 0;
    }
    const standby = end.kind === "refused" && end.code === "not_leader";
    // A refusal of this player will not be mended by retrying soon: the longest waits.
    if (end.kind === "refused" && end.code === "forbidden") this.#backoff.max();
    // A welcome, or a refusal that waiting will not mend, ends what a notice asked; a standby
    // that refuses will lead soon, which is what the notice waits for.
    if (welcomed || (end.kind === "refused" && !standby)) this.#notice = null;
    this.#allDown &&= (end.kind === "unreachable" && end.down) || standby;
    if (standby && end.retryMs) this.#standbyMs = Math.max(this.#standbyMs, end.retryMs);
    const i = list.findIndex((a) => sameAddress(a, target));
    if (i >= 0) this.#at = (i + 1) % list.length;
    if (end.kind === "refused" && end.leader && !sameAddress(end.leader, target)) {
      const leader = end.leader;
      const j = list.findIndex((a) => sameAddress(a, leader));
      if (j >= 0) this.#at = j;
      else this.#redirect = leader;
    }
    const next = this.target();
    if (end.kind === "closed" && end.notice) {
      // Told when to come back: a new round begins after the delay the conductor chose.
      this.#notice = { retryMs: end.notice.retryMs, until: this.#now() + NOTICE_FOR_MS };
      this.#tried = 0;
      this.#allDown = true;
      this.#standbyMs = 0;
      return {
        next,
        stable,
        noticed: true,
        notice: end.notice,
        wait: { ms: end.notice.delayMs, why: "notice" },
      };
    }
    const roundDone = this.#tried >= list.length + (this.#redirect ? 1 : 0);
    if (this.#notice !== null && this.#now() >= this.#notice.until) this.#notice = null;
    const notice = this.#notice;
    const step = { next, stable, noticed: notice !== null, notice: null };
    if (!roundDone) return { ...step, wait: null };
    this.#tried = 0;
    const down = this.#allDown;
    this.#allDown = true;
    const standbyMs = this.#standbyMs;
    this.#standbyMs = 0;
    if (notice !== null) {
      // Around the notice's interval, so that each player keeps its place in the spread.
      return {
        ...step,
        wait: { ms: Math.round(notice.retryMs * (0.9 + this.#random() * 0.2)), why: "notice" },
      };
    }
    // Every dial of the round found a standby or nothing there, and a standby gave a ceiling.
    const paced = standbyMs > 0 && down;
    const capMs = Math.min(paced ? standbyMs : this.#backoff.capFor(down), this.#backoff.capMs);
    const ms = this.#backoff.next(down, capMs);
    return { ...step, wait: { ms, why: paced ? "standby" : "backoff", capMs } };
  }
}
