/**
 * The scheduler: which queued task goes to which player next, without
 * scanning the fleet or the queue.
 *
 * Indexes: per player, its queued all-of tasks in queue order, and the
 * queued one-of tasks it is an untried candidate for, in queue order; a heap
 * of players that may take work, keyed by the queue position of the first
 * task they could take. A placement pops the heap: its cost grows with the
 * log of the ready players (and, for a one-of task, with the position of
 * the chosen target in the job's target list), never with the fleet.
 *
 * The order is the queue's: the task with the lowest queue position among
 * those a free player could take goes first, so each player runs its tasks
 * in submission order, a one-of task goes to the first free target in the
 * order given, and a task put back at the head (a refused one-of task) is
 * placed before anything else.
 *
 * Entries are never removed from the middle of a list: a task that left the
 * queue (placed, cancelled, expired) or re-entered it (its `gen` moved on)
 * leaves a stale entry behind, skipped when it reaches the head, and swept
 * out as the list grows.
 *
 * @module
 */

import { Heap } from "./heap.ts";
import { fixedHost, type TaskRec } from "./machine.ts";

interface Entry {
  t: TaskRec;
  gen: number;
  /** The task's queue position when the entry was made: the list is sorted by it. */
  seq: number;
}

function live(e: Entry): boolean {
  return e.t.state === "queued" && e.t.gen === e.gen;
}

/** Entries a list takes before stale ones are first swept out. */
const SWEEP_AFTER = 4096;

/**
 * Tasks in queue order, with stale entries skipped lazily. An N-of task's
 * entry is stale too once another task of its job holds or held the list's
 * player.
 */
class TaskList {
  readonly #player: string;
  #a: Entry[] = [];
  #h = 0;
  /** Entries pushed since the last sweep, and how many were left by it. */
  #pushes = 0;
  #kept = 0;

  constructor(player: string) {
    this.#player = player;
  }

  #live(e: Entry): boolean {
    return live(e) && !e.t.job.used.has(this.#player);
  }

  push(t: TaskRec): void {
    const e = { t, gen: t.gen, seq: t.seq };
    const a = this.#a;
    if (a.length === this.#h || a[a.length - 1].seq <= e.seq) {
      a.push(e);
    } else if (this.#h > 0 && a[this.#h].seq > e.seq) {
      a[--this.#h] = e;
    } else {
      let lo = this.#h;
      let hi = a.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (a[mid].seq <= e.seq) lo = mid + 1;
        else hi = mid;
      }
      a.splice(lo, 0, e);
    }
    // Swept once the list has taken as many entries again as the last sweep left: however stale
    // entries pile up (a target that is never free), the list stays within twice its live size.
    if (++this.#pushes >= Math.max(SWEEP_AFTER, this.#kept)) this.#sweep();
  }

  /** The first live task, or undefined. */
  head(): TaskRec | undefined {
    const a = this.#a;
    while (this.#h < a.length && !this.#live(a[this.#h])) this.#h++;
    if (this.#h > 1024 && this.#h * 2 > a.length) {
      this.#a = a.slice(this.#h);
      this.#h = 0;
    }
    return this.#h < this.#a.length ? this.#a[this.#h].t : undefined;
  }

  get empty(): boolean {
    return this.head() === undefined;
  }

  #sweep(): void {
    this.#a = this.#a.slice(this.#h).filter((e) => this.#live(e));
    this.#h = 0;
    this.#pushes = 0;
    this.#kept = this.#a.length;
  }

  /** Entries held, live or stale (for tests of its bound). */
  get size(): number {
    return this.#a.length - this.#h;
  }
}

/** What the scheduler asks of the players' registry. */
export interface Capacity {
  /** True when `player` is connected, welcomed, listed, and has a free slot now. */
  free(player: string): boolean;
}

/** One placement: `task` to `player`, found while looking at `from`'s queue. */
export interface Placement {
  task: TaskRec;
  player: string;
  from: string;
}

interface Ready {
  key: number;
  player: string;
}

/** Places queued tasks on free players, in queue order. */
export class Scheduler {
  readonly #capacity: Capacity;
  readonly #onWork: () => void;
  readonly #allOf = new Map<string, TaskList>();
  readonly #oneOf = new Map<string, TaskList>();
  readonly #ready = new Heap<Ready>((a, b) => a.key < b.key);
  /** The key of each player's live heap entry. */
  readonly #readyKey = new Map<string, number>();

  /** @param onWork called when a free player may take a task: placements are waiting. */
  constructor(capacity: Capacity, onWork: () => void) {
    this.#capacity = capacity;
    this.#onWork = onWork;
  }

  /**
   * Indexes a task that entered the queue and may be placed now; marks the
   * free players that could take it as ready.
   */
  enqueue(t: TaskRec): void {
    if (fixedHost(t.job)) {
      this.#list(this.#allOf, t.host!).push(t);
      this.#wake(t.host!, t.seq);
      return;
    }
    for (const c of t.job.targets) {
      if (t.triedBy?.has(c) || t.job.used.has(c)) continue;
      this.#list(this.#oneOf, c).push(t);
      this.#wake(c, t.seq);
    }
  }

  /** Adds `player` as a candidate of queued N-of task `t` (a target its job gave back). */
  offer(t: TaskRec, player: string): void {
    this.#list(this.#oneOf, player).push(t);
    this.#wake(player, t.seq);
  }

  /** A player may take work now (it said ready, a slot freed, it was welcomed). */
  playerFree(player: string): void {
    const best = this.#best(player);
    if (best) this.#wake(player, best.seq);
  }

  /** Entries held for `player`, live or stale: bounded by twice its live ones. */
  entries(player: string): number {
    return (this.#allOf.get(player)?.size ?? 0) + (this.#oneOf.get(player)?.size ?? 0);
  }

  /**
   * Takes the next placement, or undefined when no free player can take a
   * queued task. The caller must act on it (assign, or end the task) before
   * asking again, then call {@linkcode placed}.
   */
  next(): Placement | undefined {
    for (;;) {
      const top = this.#ready.pop();
      if (!top) return undefined;
      if (this.#readyKey.get(top.player) !== top.key) continue;
      this.#readyKey.delete(top.player);
      if (!this.#capacity.free(top.player)) continue;
      const t = this.#best(top.player);
      if (!t) continue;
      if (t.seq > top.key) {
        this.#wake(top.player, t.seq);
        continue;
      }
      return { task: t, player: this.#target(t, top.player), from: top.player };
    }
  }

  /** After a placement was acted on: the players involved may take more. */
  placed(p: Placement): void {
    this.playerFree(p.player);
    if (p.from !== p.player) this.playerFree(p.from);
  }

  /** The first free target of a one-of task in the order given; `fallback` is one. */
  #target(t: TaskRec, fallback: string): string {
    if (fixedHost(t.job)) return fallback;
    for (const c of t.job.targets) {
      if (c === fallback) return c;
      if (!t.triedBy?.has(c) && !t.job.used.has(c) && this.#capacity.free(c)) return c;
    }
    return fallback;
  }

  #best(player: string): TaskRec | undefined {
    const a = this.#allOf.get(player)?.head();
    const o = this.#oneOf.get(player)?.head();
    if (!a) return o;
    if (!o) return a;
    return a.seq <= o.seq ? a : o;
  }

  #wake(player: string, key: number): void {
    const cur = this.#readyKey.get(player);
    if (cur !== undefined && cur <= key) return;
    if (!this.#capacity.free(player)) return;
    this.#readyKey.set(player, key);
    this.#ready.push({ key, player });
    this.#onWork();
  }

  #list(map: Map<string, TaskList>, player: string): TaskList {
    let l = map.get(player);
    if (!l) map.set(player, l = new TaskList(player));
    return l;
  }
}
