/**
 * The players the conductor knows: the players file (the allow-list), the
 * connections (sessions), what each player last announced, and when it was
 * last seen.
 *
 * Announcements are interned: the same score declaration announced by
 * 10,000 players is held once.
 *
 * @module
 */

import type { ConductorMessage, PlayerView, ScoreInfo } from "../protocol/mod.ts";
import {
  type Labels,
  type Matchable,
  parseTarget,
  resolveTargets,
  type TargetExpr,
} from "../protocol/targets.ts";
import type { PlayersFile } from "../config/mod.ts";
import type { PlayerRecord } from "../store/mod.ts";
import type { PlayerLink } from "./link.ts";

/** One player connection, as the conductor sees it. */
export class Session {
  /** The player's name, once its hello is accepted. */
  name: string | null = null;
  version = "";
  /** The protocol minor it speaks (its hello's; 0 when it gave none). */
  minor = 0;
  /** Tasks it takes at once, as it last said; 0 until its first `ready`. */
  slots = 0;
  /** It refused a task as busy: nothing more is sent until its next `ready`. */
  blocked = false;
  /** The welcome was sent: it may be given work. */
  welcomed = false;
  /** Its scores, as announced in its hello. */
  scores: ReadonlyMap<string, ScoreInfo> = new Map();
  /** When its last frame (a heartbeat or any message) arrived, once its hello is accepted. */
  lastHeard: number;

  constructor(readonly link: PlayerLink, readonly connectedAt: number) {
    this.lastHeard = connectedAt;
  }

  /** Sends a message; false when the connection is gone. */
  send(message: ConductorMessage): boolean {
    return this.link.send(message);
  }
}

/** What a player announced, each score with the key it is interned by. */
export interface Announced {
  scores: readonly ScoreInfo[];
  keys: readonly string[];
  /** The declarations no player announced before: they are judged before they are taken in. */
  unseen: readonly ScoreInfo[];
}

/** The players, connected or not. */
export class Registry {
  /** The players file: each listed name with its labels. */
  authorised: PlayersFile;
  /** What each player reported of itself in its latest hello since the conductor started. */
  readonly facts = new Map<string, Labels>();
  /** Accepted connections, by player name. */
  readonly sessions = new Map<string, Session>();
  /** Connections that have not said hello yet. */
  readonly pending = new Set<Session>();
  /** Each player as last seen. */
  readonly records = new Map<string, PlayerRecord>();
  /** Since when each player that holds tasks has been disconnected. */
  readonly goneSince = new Map<string, number>();
  readonly #announced = new Map<string, ReadonlyMap<string, ScoreInfo>>();
  readonly #interned = new Map<string, ScoreInfo>();
  /** For each score, the players whose last announcement has it. */
  readonly #byScore = new Map<string, Set<string>>();
  readonly #held: (player: string) => number;

  /** @param held how many tasks a player holds now */
  constructor(authorised: PlayersFile, held: (player: string) => number) {
    this.authorised = authorised;
    this.#held = held;
  }

  /** Takes in the players as the store last saw them. */
  load(records: readonly PlayerRecord[]): void {
    for (const r of records) {
      this.records.set(r.name, r);
      this.announce(r.name, this.keyed(r.scores));
    }
  }

  /** Players an operator drained: no new work goes to them. */
  readonly drained = new Set<string>();

  /**
   * True when `player` is connected, welcomed, listed, not held back, not
   * drained, and has a free slot.
   */
  free(player: string): boolean {
    const s = this.sessions.get(player);
    return s !== undefined && s.welcomed && !s.blocked && !s.link.closed &&
      !this.drained.has(player) &&
      s.slots > this.#held(player) && this.authorised.has(player);
  }

  /** `scores` with the key each is interned by, and those no player announced before. */
  keyed(scores: readonly ScoreInfo[]): Announced {
    const keys = scores.map((s) => JSON.stringify(s));
    return { scores, keys, unseen: scores.filter((_, i) => !this.#interned.has(keys[i])) };
  }

  /** Records what `player` announced; returns its scores by name, interned. */
  announce(player: string, announced: Announced): ReadonlyMap<string, ScoreInfo> {
    const before = this.#announced.get(player);
    if (before) {
      for (const name of before.keys()) {
        const set = this.#byScore.get(name);
        set?.delete(player);
        if (set?.size === 0) this.#byScore.delete(name);
      }
    }
    const map = new Map<string, ScoreInfo>();
    for (const [i, s] of announced.scores.entries()) {
      const key = announced.keys[i];
      let info = this.#interned.get(key);
      if (!info) this.#interned.set(key, info = s);
      map.set(s.name, info);
      let set = this.#byScore.get(s.name);
      if (!set) this.#byScore.set(s.name, set = new Set());
      set.add(player);
    }
    this.#announced.set(player, map);
    return map;
  }

  /** What `player` last announced for `score`. */
  announcement(player: string, score: string): ScoreInfo | undefined {
    return this.#announced.get(player)?.get(score);
  }

  /** Some player's announcement of `score`, with who made it. */
  anywhere(score: string): { player: string; info: ScoreInfo } | undefined {
    const set = this.#byScore.get(score);
    if (!set) return undefined;
    for (const player of set) {
      const info = this.announcement(player, score);
      if (info) return { player, info };
    }
    return undefined;
  }

  /** Every score some player announced, sorted. */
  knownScores(): string[] {
    return [...this.#byScore.keys()].sort();
  }

  /** The listed players, as target expressions match them. */
  *matchable(): Iterable<Matchable> {
    for (const [name, labels] of this.authorised) {
      yield { name, labels, facts: this.facts.get(name) ?? {} };
    }
  }

  /**
   * The hosts `asked` (target expressions, already checked by the wire's
   * decoding) choose among the listed players; throws `OrchError("invalid")`
   * naming each name not listed and each expression that matches nothing.
   */
  resolve(asked: readonly string[]): string[] {
    const exprs: TargetExpr[] = asked.map((t, i) => parseTarget(t, `targets[${i}]`));
    return resolveTargets(exprs, {
      has: (n) => this.authorised.has(n),
      all: () => this.matchable(),
      size: this.authorised.size,
    }).hosts;
  }

  /** The players as the API shows them: listed, seen or connected, by name. */
  views(): PlayerView[] {
    const names = new Set([
      ...this.authorised.keys(),
      ...this.records.keys(),
      ...this.sessions.keys(),
    ]);
    return [...names].sort().map((name) => {
      const s = this.sessions.get(name);
      const rec = this.records.get(name);
      const connected = s !== undefined;
      return {
        name,
        authorised: this.authorised.has(name),
        connected,
        address: s?.link.remote ?? rec?.address ?? null,
        version: rec?.version ?? null,
        slots: connected ? s.slots : rec?.slots ?? 0,
        running: this.#held(name),
        draining: this.drained.has(name),
        scores: [...(this.#announced.get(name)?.keys() ?? [])],
        last_seen: connected ? s.lastHeard : rec?.lastSeen ?? null,
        labels: this.authorised.get(name) ?? {},
        facts: this.facts.get(name) ?? {},
      };
    });
  }
}
