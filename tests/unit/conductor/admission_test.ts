import { assertEquals, assertThrows } from "../../_helpers/assert.ts";
import { type AdmissionContext, admit } from "../../../lib/conductor/admission.ts";
import type { ScoreInfo, SubmitRequest } from "../../../lib/protocol/mod.ts";
import { scoreInfo, submitRequest } from "../../_helpers/requests.ts";

const info = (extra: Partial<ScoreInfo> = {}) => scoreInfo("hello", extra);

function context(players: number, announced: Map<string, ScoreInfo>): AdmissionContext & {
  lookups: number;
} {
  const authorised = new Set(Array.from({ length: players }, (_, i) => `p${i}`));
  const ctx = {
    lookups: 0,
    authorised,
    announcement(player: string) {
      ctx.lookups++;
      return announced.get(player);
    },
    anywhere: () => {
      const first = [...announced][0];
      return first ? { player: first[0], info: first[1] } : undefined;
    },
    knownScores: () => (announced.size ? ["hello"] : []),
    now: 1000,
  };
  return ctx;
}

const req = (targets: string[], extra: Partial<SubmitRequest> = {}) =>
  submitRequest("all", targets, extra);

Deno.test("admission looks up each target once, whatever the size of the fleet", () => {
  const shared = info();
  const announced = new Map(Array.from({ length: 10_000 }, (_, i) => [`p${i}`, shared]));
  const ctx = context(10_000, announced);
  admit(req(["p1", "p2", "p3"]), ctx);
  assertEquals(ctx.lookups, 3);
});

Deno.test("admission names unknown targets, the first ten and how many more", () => {
  const ctx = context(2, new Map([["p0", info()]]));
  const targets = Array.from({ length: 12 }, (_, i) => `x${i}`);
  assertThrows(
    () => admit(req(targets), ctx),
    /^targets x0, x1, x2, x3, x4, x5, x6, x7, x8, x9 and 2 more not in the players file$/,
  );
});

Deno.test("admission judges parameters by each target's announcement, and never-seen targets by any", () => {
  const strict = info({ params: { N: { type: "int", required: true } } });
  const ctx = context(3, new Map([["p0", strict]]));
  assertThrows(
    () => admit(req(["p1"]), ctx),
    /bad parameters for score hello \(as declared on p0\): parameter N is required/,
  );
  admit(req(["p1"], { params: { N: "3" } }), ctx);
});

Deno.test("admission refuses retries of a score not idempotent, and a past deadline", () => {
  const ctx = context(1, new Map([["p0", info()]]));
  assertThrows(() => admit(req(["p0"], { retries: 1 }), ctx), /is not idempotent/);
  assertThrows(() => admit(req(["p0"], { deadline: 999 }), ctx), /has passed/);
});

Deno.test("a one-of job skips the targets whose declaration refuses the params, each with its reason", () => {
  const narrow = info({ params: { N: { type: "int", required: false, min: 1, max: 5 } } });
  const wide = info({ params: { N: { type: "int", required: false, min: 1, max: 50 } } });
  const ctx = context(4, new Map([["p0", narrow], ["p1", wide], ["p2", narrow]]));
  const one = (targets: string[]) => submitRequest("one", targets, { params: { N: "20" } });
  const { skipped } = admit(one(["p0", "p1", "p2"]), ctx);
  const reason =
    "bad parameters for score hello (as declared on p0): parameter N: 20 is above the maximum 5";
  assertEquals(skipped, [
    { player: "p0", code: "bad_params", message: reason },
    { player: "p2", code: "bad_params", message: reason },
  ]);
  // A target that never announced the score may still take it.
  assertEquals(admit(one(["p0", "p3"]), ctx).skipped.map((s) => s.player), ["p0"]);
  // Fine everywhere: nothing skipped.
  assertEquals(admit(submitRequest("one", ["p0", "p1"], { params: { N: "2" } }), ctx).skipped, []);
});

Deno.test("a one-of job no target can take is refused, naming each target's reason", () => {
  const narrow = info({ params: { N: { type: "int", required: false, min: 1, max: 5 } } });
  const other = info({ params: { N: { type: "int", required: false, min: 1, max: 9 } } });
  const ctx = context(3, new Map([["p0", narrow], ["p1", other], ["p2", narrow]]));
  assertThrows(
    () => admit(submitRequest("one", ["p0", "p1", "p2"], { params: { N: "20" } }), ctx),
    /^no target can take it: on p0, p2: bad parameters for score hello \(as declared on p0\): parameter N: 20 is above the maximum 5; bad parameters for score hello \(as declared on p1\): parameter N: 20 is above the maximum 9$/,
  );
  // An all-of job is refused whole, as before.
  assertThrows(
    () => admit(submitRequest("all", ["p0", "p1"], { params: { N: "7" } }), ctx),
    /^bad parameters for score hello \(as declared on p0\)/,
  );
});
