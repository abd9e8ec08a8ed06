/**
 * Every message of the conductor ↔ player protocol, and the one step that
 * turns an untrusted JSON value into a typed message or a protocol error.
 *
 * New message kinds are added; old ones are not changed in place. After
 * the handshake, a message of a type a peer does not know at all is
 * ignored (see {@linkcode unknownType}), so a kind can be added without
 * upgrading every node at once. A known type that fails validation, or
 * arrives where it is not allowed, is still a protocol error that closes
 * the connection. A change of meaning needs a new major version, which the
 * hello negotiates (see `negotiate.ts`).
 *
 * @module
 */

import { OrchError } from "../errors.ts";
import {
  CONDUCTOR_ADDRESS,
  CONDUCTOR_ADDRESS_DESC,
  LIMITS,
  PARAM_KEY,
  PARAM_KEY_DESC,
  parseConductorAddress,
  PLAYER_NAME,
  PLAYER_NAME_DESC,
  SCORE_NAME,
  SCORE_NAME_DESC,
} from "./names.ts";
import { describe, isPlainObject, Obj, utf8Length } from "./validate.ts";
import {
  LABEL_KEY,
  LABEL_KEY_DESC,
  LABEL_VALUE,
  LABEL_VALUE_DESC,
  TARGET_LIMITS,
} from "./targets.ts";

/** The protocol's major version this build speaks: peers of different majors cannot talk. */
export const PROTOCOL_VERSION = 1;

/**
 * This build's minor version of {@linkcode PROTOCOL_VERSION}: additions a
 * peer may rely on once both sides say they have them. 1: versions are
 * negotiated, and message types a peer does not know are ignored. 2: an
 * assignment names its secret keys (`assign.secret`), and the player masks
 * their values (an older player ignores the field; the conductor masks what
 * it sends back all the same). 3: a player streams a running score's output
 * in `output` messages; a result may say how many bytes of each stream were
 * dropped between the head and the tail it keeps. 4: a conductor that stops on
 * purpose tells each player when to dial again (`reconnect`); it sends it only
 * to players that say they speak minor 4.
 */
export const PROTOCOL_MINOR = 4;

/** A range of protocol majors, both ends included. */
export interface ProtocolRange {
  min: number;
  max: number;
}

/** The majors this build speaks. */
export const PROTOCOL_RANGE: ProtocolRange = { min: PROTOCOL_VERSION, max: PROTOCOL_VERSION };

/** Largest epoch-milliseconds value accepted on the wire (year 2286). */
const MAX_TIME = 9_999_999_999_999;
/** Largest task / job id and attempt number accepted on the wire. */
const MAX_ID = Number.MAX_SAFE_INTEGER;
/** Largest duration (ms) accepted on the wire: 400 days. */
const MAX_DURATION = 400 * 86_400_000;
/** Largest protocol version number (major or minor) accepted on the wire. */
const MAX_VERSION = 1_000_000;

/** How a score receives its parameters and returns its response. */
export type ScoreInterface = "env" | "pipe" | "json";
/** The score interfaces, for validation. */
export const SCORE_INTERFACES: readonly ScoreInterface[] = ["env", "pipe", "json"];

/** The type of a declared score parameter. */
export type ParamType = "string" | "int" | "bool" | "enum";
/** The parameter types, for validation. */
export const PARAM_TYPES: readonly ParamType[] = ["string", "int", "bool", "enum"];

/** A parameter a score declares in its conf. Values always travel as strings. */
export interface ParamSpec {
  type: ParamType;
  required: boolean;
  default?: string;
  /** For `enum`: the allowed values. */
  values?: string[];
  /** For `string`: a regular expression the whole value must match. */
  pattern?: string;
  /** For `string`: largest length in characters. */
  max_length?: number;
  /** For `int`: bounds. */
  min?: number;
  max?: number;
  description?: string;
  /**
   * The value is a secret: never stored or logged in clear, and masked
   * wherever it would be shown (conductor database, player journal, output
   * tails, status).
   */
  secret?: boolean;
}

/** The type of a declared response key. */
export type ResponseType = "string" | "int" | "float" | "bool" | "enum";
/** The response types, for validation. */
export const RESPONSE_TYPES: readonly ResponseType[] = ["string", "int", "float", "bool", "enum"];

/** A declared response key: a letter, then letters, digits, `_`, `.` or `-`; 64 at most. */
export const RESPONSE_KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
/** How {@linkcode RESPONSE_KEY} reads to a person. */
export const RESPONSE_KEY_DESC =
  "a response key (a letter, then letters, digits, '_', '.' or '-'; at most 64)";

/**
 * A key of a score's response, as its conf declares it. A `pipe` score's
 * values arrive as text and are converted to the type; a `json` score's
 * values must already be of it. `int` and `float` travel as JSON numbers,
 * `bool` as `true`/`false`, `string` and `enum` as strings.
 */
export interface ResponseSpec {
  type: ResponseType;
  /** The response must hold the key (when the score succeeded). */
  required: boolean;
  /** For `enum`: the allowed values. */
  values?: string[];
  /** For `string`: a regular expression the whole value must match. */
  pattern?: string;
  /** For `string`: largest length in characters. */
  max_length?: number;
  /** For `int` and `float`: bounds. */
  min?: number;
  max?: number;
  description?: string;
}

/** What a player says about one of its scores. */
export interface ScoreInfo {
  name: string;
  interface: ScoreInterface;
  /** Declared parameters; `null` when the conf declares none (any keys accepted). */
  params: Record<string, ParamSpec> | null;
  /** Default timeout from the conf, in ms; `null` for none. */
  timeout_ms: number | null;
  /** Largest timeout a job may ask for, in ms; `null` for no limit. */
  max_timeout_ms: number | null;
  /** The conf says running it twice is harmless (needed for retries). */
  idempotent: boolean;
  /**
   * Declared response keys; absent when the conf declares none (any
   * response accepted). Conductors that do not know the field ignore it:
   * the hello's score entries are not checked for unknown fields.
   */
  response?: Record<string, ResponseSpec>;
}

/** A task the player holds in its journal, reported on every (re)connect. */
export interface JournalEntry {
  task_id: number;
  attempt: number;
  /** The conductor that assigned it (see `welcome.conductor_id`). */
  conductor_id: string;
  /** `running`: accepted and not finished; `finished`: result not yet acknowledged. */
  state: "running" | "finished";
}

/** How a task's attempt ended on the player. */
export type Outcome = "succeeded" | "failed" | "timed_out" | "cancelled" | "interrupted";
/** The outcomes, for validation. */
export const OUTCOMES: readonly Outcome[] = [
  "succeeded",
  "failed",
  "timed_out",
  "cancelled",
  "interrupted",
];

/** Why a player refused an assignment (a soft failure: nothing ran). */
export type RejectCode = "unknown_score" | "bad_params" | "cannot_start" | "busy" | "draining";
/** The reject codes, for validation. */
export const REJECT_CODES: readonly RejectCode[] = [
  "unknown_score",
  "bad_params",
  "cannot_start",
  "busy",
  "draining",
];

/** What a player result carries besides its identity. */
export interface ResultBody {
  outcome: Outcome;
  exit_code: number | null;
  signal: string | null;
  /** The score's response: key/values (`pipe`) or a JSON object (`json`). */
  response: Record<string, unknown>;
  /** The start and the end of stdout, with a marker line where bytes were dropped between them. */
  stdout_tail: string;
  stderr_tail: string;
  started_at: number;
  ended_at: number;
  /** Why the outcome is what it is, when the exit status alone does not say. */
  error: string | null;
  /** Bytes of stdout not in `stdout_tail` (minor 3); absent: 0. */
  stdout_dropped?: number;
  /** Bytes of stderr not in `stderr_tail` (minor 3); absent: 0. */
  stderr_dropped?: number;
}

/**
 * Largest `stdout_tail` / `stderr_tail` in UTF-8 bytes: the most a player
 * keeps of each end, where every byte that is not UTF-8 becomes U+FFFD
 * (3 bytes), and the marker line.
 */
export const MAX_OUTPUT_TEXT = LIMITS.maxOutputBytes * 2 * 3 + 256;

/** Player → conductor: the first frame on a connection. */
export interface Hello {
  type: "hello";
  name: string;
  version: string;
  /** A major the player speaks; alone (no `protocols`), the only one. */
  protocol: number;
  /** The majors the player speaks; absent: exactly `protocol`. */
  protocols?: ProtocolRange;
  /** The player's minor of the highest major it speaks; absent: 0. */
  minor?: number;
  slots: number;
  scores: ScoreInfo[];
  journal: JournalEntry[];
  /**
   * What the player reports of itself: `os`, `kernel`, `arch`, `version`,
   * and the operator's facts from its facts file; absent: none. Selectable as
   * `fact.KEY=VALUE`. A conductor that does not know the field ignores it.
   */
  facts?: Record<string, string>;
}

/** Conductor → player: the hello was accepted. */
export interface Welcome {
  type: "welcome";
  /** The major chosen: the highest both ends speak. */
  protocol: number;
  /** The conductor's minor of that major; absent (older conductors): 0. */
  minor?: number;
  /** Identity of the conductor's database; journal entries from another one are stale. */
  conductor_id: string;
  /** The conductor's heartbeat interval in ms. */
  heartbeat_ms: number;
}

/** Why a conductor refused a hello. */
export const REFUSE_CODES = ["forbidden", "protocol", "conflict", "not_leader"] as const;

/**
 * Conductor → player: the hello was refused; the connection closes.
 * `not_leader`: this conductor is a standby; `leader` is the address of the
 * one that leads, when it is known (players older than this code take the
 * refusal for a protocol error and disconnect, then try again).
 */
export interface Refuse {
  type: "refuse";
  code: typeof REFUSE_CODES[number];
  message: string;
  /** With `not_leader`: the leader's address (host:port), when known. */
  leader?: string;
  /**
   * With `not_leader`: the ceiling (ms) of this player's waits before it
   * dials the standby again, sized by the standby to the fleet so that the
   * hellos it refuses stay at a rate it bears (players that do not know the
   * field ignore it, and wait their own backoff).
   */
  retry_ms?: number;
}

/** Player → conductor: how many tasks it takes at once from now on (0 stops new work). */
export interface Ready {
  type: "ready";
  slots: number;
}

/** Conductor → player: run this task. */
export interface Assign {
  type: "assign";
  task_id: number;
  attempt: number;
  job_id: number;
  score: string;
  params: Record<string, string>;
  /** Timeout for this run in ms, `null` for the score's default. */
  timeout_ms: number | null;
  /**
   * Keys of `params` whose values are secret (marked by the submitter or
   * declared by the score), to be masked in what the player keeps and
   * reports; absent when none. Older players ignore it and mask what their
   * conf declares.
   */
  secret?: string[];
}

/** Player → conductor: the task was accepted and is starting. */
export interface Accept {
  type: "accept";
  task_id: number;
  attempt: number;
  started_at: number;
}

/** Player → conductor: the task was not started (soft failure). */
export interface Reject {
  type: "reject";
  task_id: number;
  attempt: number;
  code: RejectCode;
  message: string;
}

/** The streams of a score's output. */
export type OutputStream = "stdout" | "stderr";
/** The streams, for validation. */
export const OUTPUT_STREAMS: readonly OutputStream[] = ["stdout", "stderr"];

/**
 * Player → conductor: a piece of a running score's output, as it was
 * written (protocol minor 3; sent only to a conductor that speaks it).
 * Pieces may be lost (a slow link, the rate limit): `offset` then jumps,
 * and the result stays what counts. Secret values are masked.
 */
export interface Output {
  type: "output";
  task_id: number;
  attempt: number;
  stream: OutputStream;
  /** Where in the stream (bytes the score wrote before this piece) it starts. */
  offset: number;
  /** Bytes of the stream this piece stands for. */
  bytes: number;
  /** Those bytes as text; a piece never splits a character. */
  data: string;
}

/** Player → conductor: how an attempt ended. Sent again until acknowledged. */
export interface Result extends ResultBody {
  type: "result";
  task_id: number;
  attempt: number;
}

/** Conductor → player: the result is committed; the player may forget it. */
export interface ResultAck {
  type: "result_ack";
  task_id: number;
  attempt: number;
}

/** Conductor → player: stop this task if it runs; forget it if it has not started. */
export interface Cancel {
  type: "cancel";
  task_id: number;
  attempt: number;
}

/**
 * Conductor → player (minor 4): this conductor is stopping on purpose (a
 * restart, an upgrade) and closes the connection right after. The player
 * dials again `delay_ms` after the close (each player gets its own delay,
 * spread over a window sized to the fleet, so that they do not all return
 * at once), then, while no conductor welcomes it, every `retry_ms` (about
 * the same window: the spread is kept) for a bounded time, instead of its
 * growing backoff. Only sent to a player whose hello says minor 4 or more.
 */
export interface Reconnect {
  type: "reconnect";
  delay_ms: number;
  retry_ms: number;
}

/** Largest `delay_ms` and `retry_ms` of a {@linkcode Reconnect}: one minute. */
export const MAX_RECONNECT_MS = 60_000;

/** Either side: are you there? */
export interface Ping {
  type: "ping";
  t: number;
}

/** Either side: yes. */
export interface Pong {
  type: "pong";
  t: number;
}

/** Messages a player sends. */
export type PlayerMessage = Hello | Ready | Accept | Reject | Output | Result | Ping | Pong;
/** Messages a conductor sends. */
export type ConductorMessage =
  | Welcome
  | Refuse
  | Assign
  | ResultAck
  | Cancel
  | Reconnect
  | Ping
  | Pong;
/** Any protocol message. */
export type Message = PlayerMessage | ConductorMessage;

const taskRef = (o: Obj) => ({
  task_id: o.int("task_id", 1, MAX_ID),
  attempt: o.int("attempt", 1, MAX_ID),
});

const paramMap = (o: Obj, key: string) =>
  o.strMap(key, {
    keyPattern: PARAM_KEY,
    keyDesc: PARAM_KEY_DESC,
    maxEntries: LIMITS.maxParams,
    maxValue: LIMITS.maxParamValue,
    maxTotal: LIMITS.maxParamsTotal,
  });

/** The `secret` keys of an assignment: parameter keys, each once. */
function secretKeys(o: Obj): string[] {
  return o.arr("secret", LIMITS.maxParams, (v, path) => {
    if (typeof v !== "string" || !PARAM_KEY.test(v)) {
      throw new OrchError(o.code, `${path}: expected ${PARAM_KEY_DESC}`);
    }
    return v;
  });
}

/** Decodes one declared parameter; shared by the wire and the score conf. */
export function decodeParamSpec(o: Obj): ParamSpec {
  o.only([
    "type",
    "required",
    "default",
    "values",
    "pattern",
    "max_length",
    "min",
    "max",
    "description",
    "secret",
  ]);
  const spec: ParamSpec = {
    type: o.oneOf("type", PARAM_TYPES),
    required: o.optBool("required", false),
  };
  const def = o.optStr("default", { max: LIMITS.maxParamValue, noNul: true });
  if (def !== undefined) spec.default = def;
  decodeTextRules(o, spec, LIMITS.maxParamValue);
  const min = o.optInt("min", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (min !== undefined) spec.min = min;
  const max = o.optInt("max", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (max !== undefined) spec.max = max;
  decodeDescription(o, spec);
  if (o.optBool("secret", false)) spec.secret = true;
  return spec;
}

/** The fields a parameter and a response key declare alike: `values`, `pattern`, `max_length`. */
function decodeTextRules(
  o: Obj,
  spec: { values?: string[]; pattern?: string; max_length?: number },
  maxLength: number,
): void {
  if (o.has("values")) {
    spec.values = o.arr("values", 1000, (v, path) => {
      if (typeof v !== "string") throw new OrchError(o.code, `${path}: expected a string`);
      return v;
    });
  }
  const pattern = o.optStr("pattern", { max: 1000 });
  if (pattern !== undefined) spec.pattern = pattern;
  const length = o.optInt("max_length", 0, maxLength);
  if (length !== undefined) spec.max_length = length;
}

/** A declaration's `description`. */
function decodeDescription(o: Obj, spec: { description?: string }): void {
  const description = o.optStr("description", { max: 4096 });
  if (description !== undefined) spec.description = description;
}

/** Decodes one declared response key; shared by the wire and the score conf. */
export function decodeResponseSpec(o: Obj): ResponseSpec {
  o.only(["type", "required", "values", "pattern", "max_length", "min", "max", "description"]);
  const spec: ResponseSpec = {
    type: o.oneOf("type", RESPONSE_TYPES),
    required: o.optBool("required", false),
  };
  decodeTextRules(o, spec, LIMITS.maxResponseBytes);
  for (const key of ["min", "max"] as const) {
    if (!o.has(key)) continue;
    const n = o.raw[key];
    if (typeof n !== "number" || !Number.isFinite(n)) {
      o.fail(key, `expected a number, got ${describe(n)}`);
    }
    spec[key] = n;
  }
  decodeDescription(o, spec);
  return spec;
}

/** Decodes the declared response keys of a score: at most {@linkcode LIMITS}.maxResponseKeys. */
export function decodeResponseSpecs(o: Obj): Record<string, ResponseSpec> {
  const keys = Object.keys(o.raw);
  if (keys.length > LIMITS.maxResponseKeys) {
    throw new OrchError(o.code, `${o.path}: expected at most ${LIMITS.maxResponseKeys} keys`);
  }
  const out: Record<string, ResponseSpec> = Object.create(null);
  for (const key of keys) {
    if (!RESPONSE_KEY.test(key)) o.fail(key, `invalid key: ${RESPONSE_KEY_DESC}`);
    out[key] = decodeResponseSpec(o.obj(key));
  }
  return { ...out };
}

function decodeScoreInfo(v: unknown, path: string): ScoreInfo {
  const o = Obj.from(v, path, "protocol");
  let params: Record<string, ParamSpec> | null = null;
  if (o.has("params")) {
    const p = o.obj("params");
    const keys = Object.keys(p.raw);
    if (keys.length > LIMITS.maxParams) {
      o.fail("params", `expected at most ${LIMITS.maxParams} params`);
    }
    params = {};
    for (const key of keys) {
      if (!PARAM_KEY.test(key)) p.fail(key, `invalid key: ${PARAM_KEY_DESC}`);
      params[key] = decodeParamSpec(p.obj(key));
    }
  }
  const info: ScoreInfo = {
    name: o.str("name", { pattern: SCORE_NAME, patternDesc: SCORE_NAME_DESC }),
    interface: o.oneOf("interface", SCORE_INTERFACES),
    params,
    timeout_ms: o.optInt("timeout_ms", 1, LIMITS.maxTimeoutMs) ?? null,
    max_timeout_ms: o.optInt("max_timeout_ms", 1, LIMITS.maxTimeoutMs) ?? null,
    idempotent: o.optBool("idempotent", false),
  };
  if (o.has("response")) info.response = decodeResponseSpecs(o.obj("response"));
  return info;
}

function decodeJournalEntry(v: unknown, path: string): JournalEntry {
  const o = Obj.from(v, path, "protocol");
  return {
    ...taskRef(o),
    conductor_id: o.str("conductor_id", { max: 64 }),
    state: o.oneOf("state", ["running", "finished"] as const),
  };
}

function decodeResponse(o: Obj, key: string): Record<string, unknown> {
  const raw = o.raw[key];
  if (!isPlainObject(raw)) o.fail(key, "expected an object");
  if (Object.keys(raw).length > LIMITS.maxResponseKeys) {
    o.fail(key, `expected at most ${LIMITS.maxResponseKeys} keys`);
  }
  if (utf8Length(JSON.stringify(raw)) > LIMITS.maxResponseBytes) {
    o.fail(key, `expected at most ${LIMITS.maxResponseBytes} bytes`);
  }
  return raw;
}

/** Every message type this build knows, in either direction. */
export const MESSAGE_TYPES: readonly Message["type"][] = [
  "hello",
  "welcome",
  "refuse",
  "ready",
  "assign",
  "accept",
  "reject",
  "output",
  "result",
  "result_ack",
  "cancel",
  "reconnect",
  "ping",
  "pong",
];

/**
 * The type of `value` when it is an object whose `type` is a string this
 * build does not know at all (a message added by a newer peer), so that it
 * may be ignored; undefined for anything else, which
 * {@linkcode decodeMessage} judges. The type is returned as sent: clip and
 * escape it before showing it.
 */
export function unknownType(value: unknown): string | undefined {
  if (!isPlainObject(value) || typeof value.type !== "string") return undefined;
  return (MESSAGE_TYPES as readonly string[]).includes(value.type) ? undefined : value.type;
}

/**
 * Turns an untrusted JSON value into a message of one of the `allowed`
 * types, or throws an `OrchError` with code `protocol` naming the field.
 */
export function decodeMessage<T extends Message["type"]>(
  value: unknown,
  allowed: readonly T[],
): Extract<Message, { type: T }> {
  const o = Obj.from(value, "message", "protocol");
  const type = o.str("type", { max: 32 });
  if (!(allowed as readonly string[]).includes(type)) {
    throw new OrchError("protocol", `unexpected message type ${JSON.stringify(type)}`);
  }
  const m = new Obj(o.raw, type, "protocol");
  return decodeBody(type as Message["type"], m) as Extract<Message, { type: T }>;
}

function decodeBody(type: Message["type"], o: Obj): Message {
  switch (type) {
    case "hello": {
      const hello: Hello = {
        type,
        name: o.str("name", { pattern: PLAYER_NAME, patternDesc: PLAYER_NAME_DESC }),
        version: o.str("version", { max: 64 }),
        protocol: o.int("protocol", 1, MAX_VERSION),
        slots: o.int("slots", 0, LIMITS.maxSlots),
        scores: o.arr("scores", LIMITS.maxScores, decodeScoreInfo),
        journal: o.arr("journal", 1_000_000, decodeJournalEntry),
      };
      const range = o.optObj("protocols");
      if (range) {
        const min = range.int("min", 1, MAX_VERSION);
        const max = range.int("max", 1, MAX_VERSION);
        if (min > max) range.fail("min", `expected at most max (${max}), got ${min}`);
        hello.protocols = { min, max };
      }
      const minor = o.optInt("minor", 0, MAX_VERSION);
      if (minor !== undefined) hello.minor = minor;
      if (o.has("facts")) {
        const facts = o.strMap("facts", {
          keyPattern: LABEL_KEY,
          keyDesc: LABEL_KEY_DESC,
          maxEntries: TARGET_LIMITS.maxLabels,
          maxValue: 128,
          maxTotal: 16384,
        });
        for (const [k, v] of Object.entries(facts)) {
          if (!LABEL_VALUE.test(v)) o.fail(`facts.${k}`, `expected ${LABEL_VALUE_DESC}`);
        }
        hello.facts = facts;
      }
      return hello;
    }
    case "welcome": {
      const welcome: Welcome = {
        type,
        protocol: o.int("protocol", 1, MAX_VERSION),
        conductor_id: o.str("conductor_id", { min: 1, max: 64 }),
        heartbeat_ms: o.int("heartbeat_ms", 1, MAX_DURATION),
      };
      const minor = o.optInt("minor", 0, MAX_VERSION);
      if (minor !== undefined) welcome.minor = minor;
      return welcome;
    }
    case "refuse": {
      const refuse: Refuse = {
        type,
        code: o.oneOf("code", REFUSE_CODES),
        message: o.str("message", { max: 4096 }),
      };
      const leader = o.optStr("leader", {
        max: 300,
        pattern: CONDUCTOR_ADDRESS,
        patternDesc: CONDUCTOR_ADDRESS_DESC,
      });
      if (leader !== undefined) {
        if (refuse.code !== "not_leader") o.fail("leader", "only a not_leader refusal names one");
        if (parseConductorAddress(leader) === null) o.fail("leader", "the port is not 1..65535");
        refuse.leader = leader;
      }
      const retry = o.optInt("retry_ms", 1, MAX_RECONNECT_MS);
      if (retry !== undefined) {
        if (refuse.code !== "not_leader") o.fail("retry_ms", "only a not_leader refusal gives one");
        refuse.retry_ms = retry;
      }
      return refuse;
    }
    case "ready":
      return { type, slots: o.int("slots", 0, LIMITS.maxSlots) };
    case "assign":
      return {
        type,
        ...taskRef(o),
        job_id: o.int("job_id", 1, MAX_ID),
        score: o.str("score", { pattern: SCORE_NAME, patternDesc: SCORE_NAME_DESC }),
        params: paramMap(o, "params"),
        timeout_ms: o.optInt("timeout_ms", 1, LIMITS.maxTimeoutMs) ?? null,
        ...(o.has("secret") ? { secret: secretKeys(o) } : {}),
      };
    case "accept":
      return { type, ...taskRef(o), started_at: o.int("started_at", 0, MAX_TIME) };
    case "reject":
      return {
        type,
        ...taskRef(o),
        code: o.oneOf("code", REJECT_CODES),
        message: o.str("message", { max: 4096 }),
      };
    case "output":
      return {
        type,
        ...taskRef(o),
        stream: o.oneOf("stream", OUTPUT_STREAMS),
        offset: o.int("offset", 0, Number.MAX_SAFE_INTEGER),
        bytes: o.int("bytes", 1, LIMITS.maxOutputChunk),
        // Undecodable bytes become U+FFFD (3 bytes of UTF-8 each).
        data: o.str("data", { min: 1, max: LIMITS.maxOutputChunk * 3 }),
      };
    case "result":
      return {
        type,
        ...taskRef(o),
        outcome: o.oneOf("outcome", OUTCOMES),
        exit_code: o.optInt("exit_code", -1, 255) ?? null,
        signal: o.optStr("signal", { max: 32 }) ?? null,
        response: decodeResponse(o, "response"),
        stdout_tail: o.str("stdout_tail", { max: MAX_OUTPUT_TEXT }),
        stderr_tail: o.str("stderr_tail", { max: MAX_OUTPUT_TEXT }),
        started_at: o.int("started_at", 0, MAX_TIME),
        ended_at: o.int("ended_at", 0, MAX_TIME),
        error: o.optStr("error", { max: 4096 }) ?? null,
        ...(o.has("stdout_dropped")
          ? { stdout_dropped: o.int("stdout_dropped", 0, Number.MAX_SAFE_INTEGER) }
          : {}),
        ...(o.has("stderr_dropped")
          ? { stderr_dropped: o.int("stderr_dropped", 0, Number.MAX_SAFE_INTEGER) }
          : {}),
      };
    case "result_ack":
    case "cancel":
      return { type, ...taskRef(o) };
    case "reconnect":
      return {
        type,
        delay_ms: o.int("delay_ms", 0, MAX_RECONNECT_MS),
        retry_ms: o.int("retry_ms", 1, MAX_RECONNECT_MS),
      };
    case "ping":
    case "pong":
      return { type, t: o.int("t", 0, MAX_TIME) };
  }
}

/** Message types a conductor accepts from a player after the hello. */
export const PLAYER_TYPES = [
  "ready",
  "accept",
  "reject",
  "output",
  "result",
  "ping",
  "pong",
] as const;
/** Message types a player accepts from a conductor after the welcome. */
export const CONDUCTOR_TYPES = [
  "assign",
  "result_ack",
  "cancel",
  "reconnect",
  "ping",
  "pong",
  "refuse",
] as const;
