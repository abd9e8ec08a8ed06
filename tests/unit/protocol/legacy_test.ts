import { assertEquals, assertThrows } from "../../_helpers/assert.ts";
import { OrchError } from "../../../lib/errors.ts";
import {
  decodeLegacyRequest,
  JsonObjectScanner,
  legacyPlayerWord,
  legacyResponse,
  legacyStatus,
} from "../../../lib/protocol/legacy.ts";
import type { JobView, TaskView } from "../../../lib/protocol/api.ts";
import { type Aggregate, TASK_STATES, type TaskState } from "../../../lib/protocol/states.ts";

Deno.test("every task state has Orchestra's player word", () => {
  const words: Record<TaskState, string> = {
    queued: "PENDING",
    assigned: "PENDING",
    running: "RUNNING",
    succeeded: "OK",
    failed: "FAIL",
    timed_out: "FAIL",
    cancelled: "FAIL",
    skipped: "FAIL",
    interrupted: "HOST_ERROR",
    expired: "HOST_ERROR",
    player_removed: "HOST_ERROR",
    rejected: "UNKNOWN_FAILURE",
  };
  for (const s of TASK_STATES) assertEquals(legacyPlayerWord(s), words[s], s);
});

Deno.test("a rejected task takes the word of its reject code", () => {
  const words: Record<string, string> = {
    unknown_score: "UNK_SCORE",
    bad_params: "UNKNOWN_FAILURE",
    cannot_start: "UNKNOWN_FAILURE",
    busy: "HOST_ERROR",
    draining: "HOST_ERROR",
    offline: "HOST_ERROR",
    something_new: "UNKNOWN_FAILURE",
  };
  for (const [code, word] of Object.entries(words)) {
    assertEquals(legacyPlayerWord("rejected", code), word, code);
  }
  // A code means nothing for a task that was not rejected.
  assertEquals(legacyPlayerWord("failed", "unknown_score"), "FAIL");
});

function task(t: Partial<TaskView>): TaskView {
  return {
    id: 1,
    host: null,
    state: "queued",
    attempt: 0,
    reason: null,
    exit_code: null,
    signal: null,
    started_at: null,
    ended_at: null,
    response: null,
    tried: [],
    not_before: null,
    cancel_requested: false,
    offline_since: null,
    ...t,
  } as TaskView;
}

function job(aggregate: Aggregate): JobView {
  return { aggregate } as JobView;
}

Deno.test("the job word follows the aggregate; players are the hosts with their words and responses", () => {
  const tasks = [
    task({ host: "p1", state: "succeeded", response: { a: "x", n: 3, ok: true, l: [1] } }),
    task({
      id: 2,
      host: "p2",
      state: "rejected",
      reason: "p2 refused it: unknown_score: score x is not installed there",
    }),
  ];
  assertEquals(legacyStatus(job("partial"), tasks), {
    Status: "PARTIAL_FAIL",
    Players: {
      p1: { Status: "OK", Response: { a: "x", n: "3", ok: "true", l: "[1]" } },
      p2: { Status: "UNK_SCORE", Response: {} },
    },
  });
  const words: Record<Aggregate, string> = {
    pending: "PENDING",
    running: "PENDING",
    success: "OK",
    partial: "PARTIAL_FAIL",
    failure: "FAIL",
  };
  for (const [a, w] of Object.entries(words)) {
    assertEquals(legacyStatus(job(a as Aggregate), []).Status, w);
  }
});

Deno.test("a one-of job lists no player before placement, then the players that refused it and the one that runs it", () => {
  assertEquals(legacyStatus(job("pending"), [task({})]).Players, {});
  const moved = task({
    host: "p2",
    state: "running",
    tried: [{ player: "p1", code: "unknown_score", message: "not installed" }],
  });
  assertEquals(legacyStatus(job("running"), [moved]).Players, {
    p1: { Status: "UNK_SCORE", Response: {} },
    p2: { Status: "RUNNING", Response: {} },
  });
  const none = task({
    state: "rejected",
    reason: "every target refused it: …",
    tried: [{ player: "p1", code: "cannot_start", message: "exec failed" }],
  });
  assertEquals(legacyStatus(job("failure"), [none]), {
    Status: "FAIL",
    Players: { p1: { Status: "UNKNOWN_FAILURE", Response: {} } },
  });
});

Deno.test("responses are strings, typed values their JSON text", () => {
  assertEquals(legacyResponse(null), {});
  assertEquals(legacyResponse({ s: "a", z: null, o: { k: 1 } }), {
    s: "a",
    z: "null",
    o: '{"k":1}',
  });
});

Deno.test("requests are decoded with field names matched without regard to case, as Go does", () => {
  assertEquals(
    decodeLegacyRequest({
      op: "queue",
      SCORE: "hello",
      sCoPe: "one",
      players: ["p1"],
      Params: { K: "v" },
      Extra: 1,
    }),
    { op: "queue", score: "hello", scope: "one", players: ["p1"], params: { K: "v" } },
  );
  assertEquals(decodeLegacyRequest({ OP: "status", id: 7 }), { op: "status", id: 7 });
  // Null is missing, as in Go; Params may be left out.
  assertEquals(
    decodeLegacyRequest({ Op: "queue", Score: "s", Scope: "all", Players: ["p"], Params: null }),
    { op: "queue", score: "s", scope: "all", players: ["p"], params: {} },
  );
  const bad: [unknown, RegExp][] = [
    [null, /not a JSON object but null/],
    [{ Op: "Queue" }, /"Op": expected "queue" or "status", got "Queue"/],
    [{ Op: "status", Id: 1.5 }, /"Id": expected a job id/],
    [{ Op: "status", Id: 0 }, /"Id": expected a job id/],
    [{ Op: "queue", Score: "../x", Scope: "all", Players: ["p"] }, /"Score": expected/],
    [{ Op: "queue", Score: "s", Scope: "all", Players: [] }, /at least one player/],
    [{ Op: "queue", Score: "s", Scope: "all", Players: ["p", 3] }, /"Players"\[1\]/],
    [{ Op: "queue", Score: "s", Scope: "all", Players: ["p"], Params: [] }, /"Params": expected/],
  ];
  for (const [v, re] of bad) {
    const err = assertThrows(() => decodeLegacyRequest(v), re);
    assertEquals(err instanceof OrchError && err.code, "invalid");
  }
});

Deno.test("the scanner sees where one JSON object ends, across chunks and inside strings", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const s = new JsonObjectScanner();
  assertEquals(s.push(enc(' {"a": "}{\\"')), "more");
  assertEquals(s.push(enc('", "b": [{}, "]"]')), "more");
  assertEquals(s.push(enc("}")), "done");
  assertEquals(new JsonObjectScanner().push(enc(" [1]")), "not_object");
  assertEquals(new JsonObjectScanner().push(enc("\n{}\n")), "done");
  assertEquals(new JsonObjectScanner().push(enc('{"é": "ü}"')), "more");
});
