/**
 * Orchestra's own audience protocol, as its existing clients (`submitjob`,
 * `getstatus`, its Python library) speak it on a Unix socket: one JSON
 * object per connection, answered by one JSON array, then the connection
 * closes.
 *
 * - `{"Op":"queue","Score":S,"Scope":"all"|"one","Players":[…],"Params":{…}}`
 *   → `["OK", id]` or `["Error", "message"]`
 * - `{"Op":"status","Id":id}` → `["OK", {"Status": JOB, "Players": {name:
 *   {"Status": PLAYER, "Response": {…}}}}]` or `["Error", "message"]`
 *
 * Orchestra's conductor was written in Go, whose JSON decoder matches field
 * names without regard to case and ignores fields it does not know; so
 * does this one (`op` and `OP` are `Op`; the last of two spellings wins).
 * The values (`"queue"`, `"all"`) are matched exactly.
 *
 * @module
 */

import { OrchError } from "../errors.ts";
import type { Aggregate, TaskState } from "./states.ts";
import type { RejectCode } from "./messages.ts";
import type { JobView, TaskView } from "./api.ts";
import { isPlainObject } from "./validate.ts";
import { LIMITS, PLAYER_NAME, PLAYER_NAME_DESC, SCORE_NAME, SCORE_NAME_DESC } from "./names.ts";

/** A request of Orchestra's audience protocol, decoded. */
export type LegacyRequest =
  | {
    op: "queue";
    score: string;
    scope: "all" | "one";
    players: string[];
    params: Record<string, string>;
  }
  | { op: "status"; id: number };

/** Orchestra's word for a job. */
export type LegacyJobWord = "OK" | "FAIL" | "PARTIAL_FAIL" | "PENDING";

/** Orchestra's word for one player's part of a job (its hard and soft outcomes). */
export type LegacyPlayerWord =
  | "PENDING"
  | "RUNNING"
  | "OK"
  | "FAIL"
  | "HOST_ERROR"
  | "UNK_SCORE"
  | "UNKNOWN_FAILURE";

/** One player's part in the answer to `status`. */
export interface LegacyPlayerStatus {
  Status: LegacyPlayerWord;
  Response: Record<string, string>;
}

/** The answer to `status`, inside `["OK", …]`. */
export interface LegacyStatus {
  Status: LegacyJobWord;
  Players: Record<string, LegacyPlayerStatus>;
}

/** Every reply: `["OK", value]` or `["Error", message]`. */
export type LegacyReply = ["OK", number | LegacyStatus] | ["Error", string];

/** Largest request accepted, in bytes. */
export const LEGACY_MAX_REQUEST = 1 << 20;

/** The job word of each aggregate. */
export const LEGACY_JOB_WORDS: Readonly<Record<Aggregate, LegacyJobWord>> = {
  pending: "PENDING",
  running: "PENDING",
  success: "OK",
  partial: "PARTIAL_FAIL",
  failure: "FAIL",
};

/**
 * The player word of each task state. A `rejected` task (the player
 * refused it; nothing ran) takes the word of its reject code
 * ({@linkcode LEGACY_REJECT_WORDS}).
 */
export const LEGACY_TASK_WORDS: Readonly<Record<TaskState, LegacyPlayerWord>> = {
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

/** The player word of a rejected task, by why it was refused (`offline`: a one-of task moved on). */
export const LEGACY_REJECT_WORDS: Readonly<Record<RejectCode | "offline", LegacyPlayerWord>> = {
  unknown_score: "UNK_SCORE",
  bad_params: "UNKNOWN_FAILURE",
  cannot_start: "UNKNOWN_FAILURE",
  busy: "HOST_ERROR",
  draining: "HOST_ERROR",
  offline: "HOST_ERROR",
};

/** The player word of a task in `state`, refused with `code` when it is `rejected`. */
export function legacyPlayerWord(state: TaskState, code: string | null = null): LegacyPlayerWord {
  if (state === "rejected" && code !== null && Object.hasOwn(LEGACY_REJECT_WORDS, code)) {
    return LEGACY_REJECT_WORDS[code as keyof typeof LEGACY_REJECT_WORDS];
  }
  return LEGACY_TASK_WORDS[state];
}

/**
 * The reject code of a rejected all-of task: the conductor records it in
 * the task's reason as `PLAYER refused it: CODE: message`.
 */
const REFUSED_REASON = /^\S+ refused it: ([a-z_]+): /;

/** Why a rejected task was refused, as a reject code, or null when it does not say. */
export function rejectCodeOf(task: Pick<TaskView, "state" | "reason" | "tried">): string | null {
  if (task.state !== "rejected") return null;
  const m = task.reason === null ? null : REFUSED_REASON.exec(task.reason);
  if (m) return m[1];
  return task.tried.at(-1)?.code ?? null;
}

/**
 * A response as Orchestra gave it: key/values of strings. A typed value
 * (number, boolean, list, object) is given as its JSON text.
 */
export function legacyResponse(response: Record<string, unknown> | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (response === null) return out;
  for (const [k, v] of Object.entries(response)) {
    out[k] = typeof v === "string" ? v : JSON.stringify(v) ?? "null";
  }
  return out;
}

/**
 * The answer to `status` for `job` and every one of its `tasks`. `Players`
 * holds each host a task was placed on, with the word of its task; a
 * player that refused a one-of task (which then moved on) is there too,
 * with the word of its refusal. A one-of job not yet placed has none.
 */
export function legacyStatus(
  job: Pick<JobView, "aggregate">,
  tasks: readonly Pick<TaskView, "tried" | "host" | "state" | "reason" | "response">[],
): LegacyStatus {
  const players: Record<string, LegacyPlayerStatus> = {};
  for (const t of tasks) {
    for (const x of t.tried) {
      if (!Object.hasOwn(players, x.player)) {
        players[x.player] = { Status: legacyPlayerWord("rejected", x.code), Response: {} };
      }
    }
    if (t.host !== null) {
      players[t.host] = {
        Status: legacyPlayerWord(t.state, rejectCodeOf(t)),
        Response: legacyResponse(t.response),
      };
    }
  }
  return { Status: LEGACY_JOB_WORDS[job.aggregate], Players: players };
}

/**
 * Decodes a request; throws `OrchError("invalid")` naming the field that is
 * missing or wrong. Field names match without regard to case.
 */
export function decodeLegacyRequest(value: unknown): LegacyRequest {
  if (!isPlainObject(value)) {
    throw new OrchError("invalid", `the request is not a JSON object but ${kindOf(value)}`);
  }
  const fields = new Map<string, unknown>();
  for (const [k, v] of Object.entries(value)) fields.set(k.toLowerCase(), v);
  // Go leaves a field that is null as it was: missing.
  const get = (name: string) => fields.get(name.toLowerCase()) ?? undefined;
  const op = get("Op");
  if (op === undefined) throw invalid(`"Op" is missing: expected "queue" or "status"`);
  if (op === "status") {
    const id = get("Id");
    if (id === undefined) throw invalid(`"Id" is missing: a status request names a job id`);
    if (typeof id !== "number" || !Number.isInteger(id) || id < 1 || id > MAX_JOB_ID) {
      throw invalid(`"Id": expected a job id (a positive integer), got ${shown(id)}`);
    }
    return { op: "status", id };
  }
  if (op !== "queue") throw invalid(`"Op": expected "queue" or "status", got ${shown(op)}`);
  const score = get("Score");
  if (score === undefined) throw invalid(`"Score" is missing`);
  if (typeof score !== "string" || !SCORE_NAME.test(score)) {
    throw invalid(`"Score": expected ${SCORE_NAME_DESC}, got ${shown(score)}`);
  }
  const scope = get("Scope");
  if (scope === undefined) throw invalid(`"Scope" is missing: expected "all" or "one"`);
  if (scope !== "all" && scope !== "one") {
    throw invalid(`"Scope": expected "all" or "one", got ${shown(scope)}`);
  }
  const list = get("Players");
  if (list === undefined) throw invalid(`"Players" is missing: expected a list of player names`);
  if (!Array.isArray(list)) throw invalid(`"Players": expected a list, got ${kindOf(list)}`);
  if (list.length === 0) throw invalid(`"Players": at least one player is needed`);
  if (list.length > LIMITS.maxTargets) {
    throw invalid(`"Players": ${list.length} players is more than ${LIMITS.maxTargets}`);
  }
  const players = list.map((p, i) => {
    if (typeof p !== "string" || !PLAYER_NAME.test(p)) {
      throw invalid(`"Players"[${i}]: expected ${PLAYER_NAME_DESC}, got ${shown(p)}`);
    }
    return p;
  });
  const raw = get("Params") ?? {};
  if (!isPlainObject(raw)) throw invalid(`"Params": expected an object, got ${kindOf(raw)}`);
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== "string") {
      throw invalid(`"Params".${shown(k)}: expected a string, got ${kindOf(v)}`);
    }
    params[k] = v;
  }
  return { op: "queue", score, scope, players, params };
}

/** Largest job id a request may name. */
const MAX_JOB_ID = 999_999_999_999_999;

function invalid(message: string): OrchError {
  return new OrchError("invalid", message);
}

/** A value quoted in an error, cut short. */
function shown(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/**
 * Tells when the bytes of a request make one whole JSON object, fed chunk
 * by chunk (each byte is looked at once). Structural characters are ASCII,
 * so the bytes of UTF-8 sequences never look like them.
 */
export class JsonObjectScanner {
  #depth = 0;
  #started = false;
  #inString = false;
  #escape = false;
  #done = false;

  /**
   * Takes the next chunk: `done` once an object is closed, `not_object`
   * when the value does not start with `{`, else `more`.
   */
  push(chunk: Uint8Array): "more" | "done" | "not_object" {
    for (const b of chunk) {
      if (this.#done) return "done";
      if (!this.#started) {
        if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
        if (b !== 0x7b) return "not_object";
        this.#started = true;
        this.#depth = 1;
        continue;
      }
      if (this.#inString) {
        if (this.#escape) this.#escape = false;
        else if (b === 0x5c) this.#escape = true;
        else if (b === 0x22) this.#inString = false;
        continue;
      }
      if (b === 0x22) this.#inString = true;
      else if (b === 0x7b || b === 0x5b) this.#depth++;
      else if (b === 0x7d || b === 0x5d) {
        if (--this.#depth === 0) this.#done = true;
      }
    }
    return this.#done ? "done" : "more";
  }
}
