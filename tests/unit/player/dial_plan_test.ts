/**
 * A player's dialling decisions: which conductor next, and how long it
 * waits first, after each way a connection can end (no network, a fake
 * clock).
 */

import { assert, assertEquals } from "../../_helpers/assert.ts";
import { Backoff, DOWN_CAP_MS } from "../../../lib/player/backoff.ts";
import {
  DialPlan,
  NOTICE_FOR_MS,
  type SessionEnd,
  type Step,
} from "../../../lib/player/_dial_plan.ts";
import type { Address } from "../../../lib/config/mod.ts";

const A: Address = { host: "c1.example", port: 2258 };
const B: Address = { host: "c2.example", port: 2258 };
const C: Address = { host: "c3.example", port: 2258 };
/** `reconnect_max` as a player may well set it: far beyond the cap for a conductor not there. */
const TEN_MINUTES = 600_000;

type End = Exclude<SessionEnd, { kind: "stopping" }>;

const down: End = { kind: "unreachable", why: "connection refused", down: true, refused: false };
const standby = (leader: Address | null): End => ({
  kind: "refused",
  code: "not_leader",
  why: "this conductor is a standby",
  leader,
});
const forbidden: End = { kind: "refused", code: "forbidden", why: "not listed", leader: null };
const notice: End = {
  kind: "closed",
  why: "the peer closed the connection",
  welcomed: true,
  notice: { delayMs: 120, retryMs: 300 },
};
const welcomedAndLasted: End = { kind: "closed", why: "gone", welcomed: true };

/** A plan over `list` whose backoff draws its largest value, and a clock the test moves. */
function plan(list: Address[], random = () => 1) {
  const clock = { now: 0 };
  const p = new DialPlan(list, new Backoff(250, TEN_MINUTES, random), random, () => clock.now);
  /** Ends the connection to the conductor the plan dials now with `end`; the step decided. */
  const end = (e: End, lastedMs = 10): Step => p.after(p.target(), e, lastedMs);
  return { p, clock, end };
}

Deno.test("a standby's not_leader refusal waits at most the cap for a conductor not there, however large reconnect_max", () => {
  // Every conductor stands by (the database away): each round is two refusals.
  const { end } = plan([A, B]);
  const waits: Step["wait"][] = [];
  for (let round = 0; round < 12; round++) {
    assertEquals(end(standby(null)).wait, null, "the next conductor is dialled at once");
    waits.push(end(standby(null)).wait);
  }
  for (const w of waits) {
    assert(w !== null && w.why === "backoff", JSON.stringify(w));
    assertEquals(w.capMs, DOWN_CAP_MS);
    assert(w.ms <= DOWN_CAP_MS, `waited ${w.ms} ms after a standby's refusal`);
  }
  assertEquals(waits.at(-1)!.ms, DOWN_CAP_MS);
});

Deno.test("a lone conductor standing by, and a standby naming a leader that is gone, wait the short cap too", () => {
  const lone = plan([A]);
  let last: Step | null = null;
  for (let i = 0; i < 12; i++) last = lone.end(standby(null));
  assertEquals(last!.wait, { ms: DOWN_CAP_MS, why: "backoff", capMs: DOWN_CAP_MS });

  // B stands by naming A, which is gone (a leader paused past its lease, then killed).
  const pair = plan([B, A]);
  for (let i = 0; i < 12; i++) {
    const refused = pair.end(standby(A));
    assertEquals([refused.next, refused.wait], [A, null]);
    last = pair.end(down);
  }
  assertEquals(last!.wait, { ms: DOWN_CAP_MS, why: "backoff", capMs: DOWN_CAP_MS });
});

Deno.test("a refusal of the player itself waits up to reconnect_max", () => {
  const { end } = plan([A]);
  const w = end(forbidden).wait;
  assertEquals(w, { ms: TEN_MINUTES, why: "backoff", capMs: TEN_MINUTES });
  // One refusal in a round of conductors otherwise down is enough for the long cap.
  const two = plan([A, B]);
  two.end(forbidden);
  assertEquals(two.end(down).wait?.ms, TEN_MINUTES);
});

Deno.test("a reconnect notice holds across a standby's not_leader refusals, until a welcome", () => {
  const { end } = plan([A, B]);
  // The leader A stops on purpose: its notice, then B, which has not taken over yet.
  const told = end(notice);
  assertEquals([told.next, told.notice, told.wait], [B, notice.notice!, {
    ms: 120,
    why: "notice",
  }]);
  for (let round = 0; round < 5; round++) {
    const refused = end(standby(A));
    // Straight to the leader it names, as what a planned restart looks like (logged at debug).
    assertEquals([refused.next, refused.noticed, refused.wait], [A, true, null]);
    const gone = end(down);
    assertEquals(gone.noticed, true);
    assert(gone.wait !== null && gone.wait.why === "notice", JSON.stringify(gone.wait));
    assert(gone.wait.ms >= 270 && gone.wait.ms <= 330, `${gone.wait.ms} is not 300 ms ± 10 %`);
  }
  // B leads and welcomes the player: the notice is over; later rounds back off.
  const welcomed = end(welcomedAndLasted);
  assertEquals(welcomed.noticed, false);
  assertEquals(end(down).wait?.why, "backoff");
});

Deno.test("a notice ends after its time, and at a refusal that waiting will not mend", () => {
  const timed = plan([A, B]);
  timed.end(notice);
  timed.end(standby(A));
  assertEquals(timed.end(down).wait?.why, "notice");
  timed.clock.now += NOTICE_FOR_MS;
  timed.end(standby(A));
  const after = timed.end(down);
  assertEquals([after.noticed, after.wait?.why], [false, "backoff"]);

  const refused = plan([A, B]);
  refused.end(notice);
  const step = refused.end(forbidden);
  assertEquals(step.noticed, false);
  assertEquals(refused.end(down).wait?.why, "backoff");
});

Deno.test("a leader named outside the list is dialled next, and the round goes on from the one after the refusal", () => {
  const { end } = plan([A, B]);
  const first = end(standby(C));
  assertEquals([first.next, first.wait], [C, null]);
  // C took the place of a dial in the round: it ends there, and goes on with B.
  const gone = end(down);
  assertEquals(gone.next, B);
  assert(gone.wait !== null, "the round waits before its next");
});

Deno.test("a standby's retry_ms is the ceiling of the waits after rounds that found only standbys: quick first tries, then its pace, not reconnect_max nor 5 s", () => {
  const asking = (retryMs: number): End => ({ ...standby(null), retryMs } as End);
  // The largest draw each time: the ceiling doubles from 250 ms, up to the standby's 20 s.
  const { end } = plan([A, B]);
  const waits: Step["wait"][] = [];
  for (let round = 0; round < 12; round++) {
    assertEquals(end(asking(20_000)).wait, null, "the next conductor is dialled at once");
    waits.push(end(down).wait);
  }
  assertEquals(waits[0], { ms: 250, why: "standby", capMs: 20_000 });
  assertEquals(waits[1], { ms: 500, why: "standby", capMs: 20_000 });
  assertEquals(waits[11], { ms: 20_000, why: "standby", capMs: 20_000 });
  // A ceiling under the 5 s one is kept too; the highest of a round counts.
  const low = plan([A, B]);
  for (let round = 0; round < 12; round++) {
    low.end(asking(1_000));
    waits.push(low.end(asking(2_000)).wait);
  }
  assertEquals(waits.at(-1), { ms: 2_000, why: "standby", capMs: 2_000 });
  // Never above reconnect_max.
  const capped = new DialPlan([A], new Backoff(250, 3_000, () => 1), () => 1, () => 0);
  let w: Step["wait"] = null;
  for (let round = 0; round < 12; round++) w = capped.after(A, asking(20_000), 10).wait;
  assertEquals(w, { ms: 3_000, why: "standby", capMs: 3_000 });
  // A round where a conductor was there and did not refuse as a standby waits the backoff.
  const mixed = plan([A, B]);
  mixed.end(asking(3_000));
  const m = mixed.end({ kind: "closed", why: "gone", welcomed: false }).wait;
  assert(m !== null && m.why === "backoff", JSON.stringify(m));
});
