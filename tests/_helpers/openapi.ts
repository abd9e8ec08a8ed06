/**
 * Checks answers of the audience API against its OpenAPI description
 * (lib/protocol/openapi.ts): the operation is found by method and path
 * template, then the status must be one it lists, the content type one it
 * gives for that status, and a JSON body must match the schema; the data of
 * each event of an event stream must match its type's schema (`x-events`).
 * Used by the test cluster on every answer and event its clients get, so
 * the description cannot drift from the code.
 *
 * @module
 */

import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { OPENAPI } from "../../lib/protocol/openapi.ts";
import type { AnswerCheck, EventCheck } from "../../lib/client/mod.ts";

/** A time as the API sends it (`2026-11-23T03:30:00.123Z`). */
const SENT_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The description, read as what it is. */
interface Doc {
  servers: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
}
interface Operation {
  responses: Record<string, { content?: Record<string, Media> }>;
}
interface Media {
  schema?: unknown;
  /** An event stream's events: the schema of each type's data. */
  "x-events"?: Record<string, unknown>;
}

/** One answer, as a client saw it. */
export interface Answer {
  method: string;
  /** The path with its query, as sent (`/v1/jobs/3?wait=1`). */
  path: string;
  status: number;
  contentType: string;
  /** The body parsed as JSON; undefined when not JSON (an event stream). */
  body: unknown;
}

/** Checks answers against a description (by default the conductor's). */
export class OpenApiChecker {
  readonly #doc: Doc;
  readonly #ajv: Ajv2020;
  readonly #routes: { method: string; template: string; re: RegExp; op: Operation }[] = [];
  readonly #compiled = new Map<unknown, ValidateFunction>();
  readonly #prefix: string;

  constructor(doc: unknown = OPENAPI) {
    this.#doc = doc as Doc;
    this.#prefix = this.#doc.servers[0]?.url ?? "";
    this.#ajv = new Ajv2020({ allErrors: true, strict: false });
    // Every time the API sends is as `Date.prototype.toISOString` writes it: UTC, milliseconds.
    this.#ajv.addFormat("date-time", SENT_TIME);
    this.#ajv.addSchema({ $id: "orch:components", components: this.#doc.components });
    for (const [template, ops] of Object.entries(this.#doc.paths)) {
      const re = new RegExp(
        "^" + template.replace(/[.]/g, "\\.").replace(/\{[^}]+\}/g, "[^/]+") + "$",
      );
      for (const [method, op] of Object.entries(ops)) {
        this.#routes.push({ method: method.toUpperCase(), template, re, op });
      }
    }
  }

  /** Throws an error naming the method, path, status and schema error when `a` breaks the description. */
  check(a: Answer): void {
    const where = `${a.method} ${a.path} answered ${a.status}`;
    const pathOnly = a.path.split("?")[0];
    const rel = pathOnly.startsWith(this.#prefix + "/")
      ? pathOnly.slice(this.#prefix.length)
      : null;
    const onPath = rel === null ? [] : this.#routes.filter((r) => r.re.test(rel));
    const route = onPath.find((r) => r.method === a.method);
    if (!route) {
      // Outside the description: only the error answers of an unknown path or a wrong method,
      // or a standby's refusal (its answer to every request but health and ready).
      const want = onPath.length === 0 ? 404 : 405;
      if (a.status === 503) {
        this.#match(where, NOT_LEADER, a.body);
        return;
      }
      if (a.status !== want) {
        throw new Error(
          `${where}: not described (expected a ${want} error for an undescribed route)`,
        );
      }
      this.#match(where, ERROR, a.body);
      return;
    }
    const res = route.op.responses[String(a.status)];
    if (!res) {
      throw new Error(
        `${where}: status ${a.status} is not described for ${a.method} ${route.template} ` +
          `(described: ${Object.keys(route.op.responses).join(", ")})`,
      );
    }
    const type = a.contentType.split(";")[0].trim().toLowerCase();
    const media = res.content?.[type];
    if (!media) {
      throw new Error(
        `${where}: content type ${JSON.stringify(a.contentType)} is not described ` +
          `(described: ${Object.keys(res.content ?? {}).join(", ") || "none"})`,
      );
    }
    if (type === "application/json" && media.schema !== undefined) {
      this.#match(`${where} (${a.method} ${route.template})`, media.schema, a.body);
    }
  }

  /**
   * Throws an error naming the stream, the event type and the field when
   * the data of an event of the stream at `path` breaks the description, or
   * when the description lists no such event for that stream.
   */
  checkEvent(path: string, type: string, data: unknown): void {
    const pathOnly = path.split("?")[0];
    const rel = pathOnly.startsWith(this.#prefix + "/") ? pathOnly.slice(this.#prefix.length) : "";
    const route = this.#routes.find((r) => r.method === "GET" && r.re.test(rel));
    const events = route?.op.responses["200"]?.content?.["text/event-stream"]?.["x-events"];
    if (!route || !events) {
      throw new Error(`GET ${path}: not an event stream of the description`);
    }
    const schema = events[type];
    if (schema === undefined) {
      throw new Error(
        `GET ${path}: event ${JSON.stringify(type)} is not described for GET ${route.template} ` +
          `(described: ${Object.keys(events).join(", ")})`,
      );
    }
    this.#match(`GET ${path}: event ${type} (GET ${route.template})`, schema, data);
  }

  #match(where: string, schema: unknown, body: unknown): void {
    let v = this.#compiled.get(schema);
    if (!v) {
      v = this.#ajv.compile(rebase(schema) as object);
      this.#compiled.set(schema, v);
    }
    if (!v(body)) {
      const errs = (v.errors ?? []).slice(0, 5).map((e) =>
        `${e.instancePath || "/"} ${e.message}${e.params ? " " + JSON.stringify(e.params) : ""}`
      );
      throw new Error(`${where}: body does not match the description: ${errs.join("; ")}`);
    }
  }
}

/** Any error answer. */
const ERROR = { $ref: "orch:components#/components/schemas/Error" };
/** A standby's refusal. */
const NOT_LEADER = {
  allOf: [ERROR],
  properties: { error: { properties: { code: { const: "not_leader" } } } },
};

/** `schema` with its `#/components/…` references pointed at the registered components. */
function rebase(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (schema === null || typeof schema !== "object") return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    out[k] = k === "$ref" && typeof v === "string" && v.startsWith("#/components/")
      ? `orch:components${v}`
      : rebase(v);
  }
  return out;
}

/** The checker every test cluster shares. */
export const openApiChecker: OpenApiChecker = new OpenApiChecker();

/** An audience client's answer check: {@linkcode openApiChecker}'s. */
export const answerCheck: AnswerCheck = (a) => openApiChecker.check(a);

/** An audience client's event check: {@linkcode openApiChecker}'s. */
export const eventCheck: EventCheck = (e) => openApiChecker.checkEvent(e.path, e.type, e.data);
