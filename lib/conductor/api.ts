/**
 * The audience API (`/v1/…`, HTTP + JSON), as one fetch-style handler that
 * both the Unix socket and the HTTPS listener serve. Errors are
 * `{error: {code, message, hint?}}` with a 4xx/5xx status; a refused
 * request changes nothing.
 *
 * | method | path | what |
 * | --- | --- | --- |
 * | GET | /v1/health | liveness and a few numbers |
 * | POST | /v1/jobs | submit a job; 201 `{id}` once it is durable |
 * | GET | /v1/jobs?limit=N&before=ID | newest jobs first |
 * | GET | /v1/jobs/ID?wait=SECONDS | one job; with `wait`, answers when it finishes or the time is up |
 * | POST | /v1/jobs/ID/cancel | cancel a job: queued tasks end at once, running ones are stopped |
 * | GET | /v1/players | players: authorised, connected, scores |
 *
 * @module
 */

import { ERROR_CODES, errorMessage, OrchError } from "../errors.ts";
import type { Logger } from "../log.ts";
import {
  API_PREFIX,
  type Caller,
  type CancelResponse,
  concatBytes,
  decodeSubmit,
  errorToBody,
  type JobSummary,
  type JobView,
  LIMITS,
  type PlayerView,
  type SubmitRequest,
} from "../protocol/mod.ts";

/** What the API needs from the conductor. */
export interface AudienceBackend {
  submit(req: SubmitRequest, caller: Caller): Promise<number>;
  cancel(id: number, caller: Caller): Promise<CancelResponse>;
  job(id: number): Promise<JobView | undefined>;
  waitJob(id: number, timeoutMs: number, signal?: AbortSignal): Promise<JobView | undefined>;
  jobs(limit: number, before?: number): Promise<JobSummary[]>;
  players(): Promise<PlayerView[]>;
  health(): Record<string, unknown>;
}

/** Who made a request, as the transport proved it. */
export interface CallerCtx {
  caller: Caller;
  /** Aborts when the client goes away, where the transport can tell. */
  signal?: AbortSignal;
}

/** A fetch-style handler for the audience API. */
export type ApiHandler = (req: Request, caller: CallerCtx) => Promise<Response>;

/** Longest wait one request may ask for. */
export const MAX_WAIT_MS = 300_000;

/** The audience API over `backend`. */
export function createApiHandler(backend: AudienceBackend, log?: Logger): ApiHandler {
  return async (req, caller) => {
    try {
      return await route(backend, req, caller);
    } catch (err) {
      if (err instanceof OrchError && err.code !== "internal") return errorResponse(err);
      log?.error("audience API request failed", {
        path: new URL(req.url).pathname,
        error: errorMessage(err),
      });
      return errorResponse(new OrchError("internal", "internal error; see the conductor's log"));
    }
  };
}

async function route(backend: AudienceBackend, req: Request, caller: CallerCtx): Promise<Response> {
  const url = new URL(req.url);
  const path = url.pathname;
  if (!path.startsWith(`${API_PREFIX}/`)) throw new OrchError("not_found", `no such path: ${path}`);
  const parts = path.slice(API_PREFIX.length + 1).split("/");

  if (parts.length === 1 && parts[0] === "health") {
    allow(req, "GET");
    return json(200, { ok: true, ...backend.health() });
  }
  if (parts.length === 1 && parts[0] === "players") {
    allow(req, "GET");
    return json(200, { players: await backend.players() });
  }
  if (parts.length === 1 && parts[0] === "jobs") {
    if (req.method === "POST") {
      const body = await readJson(req);
      const submit = decodeSubmit(body);
      const id = await backend.submit(submit, caller.caller);
      return json(201, { id });
    }
    allow(req, "GET");
    const limit = intParam(url, "limit", 1, 1000) ?? 50;
    const before = intParam(url, "before", 1, Number.MAX_SAFE_INTEGER);
    return json(200, { jobs: await backend.jobs(limit, before) });
  }
  if (parts.length === 2 && parts[0] === "jobs") {
    allow(req, "GET");
    const id = parseId(parts[1]);
    const waitS = floatParam(url, "wait", 0, MAX_WAIT_MS / 1000);
    const job = waitS
      ? await backend.waitJob(id, waitS * 1000, caller.signal)
      : await backend.job(id);
    if (!job) throw new OrchError("not_found", `no job ${id}`);
    return json(200, job);
  }
  if (parts.length === 3 && parts[0] === "jobs" && parts[2] === "cancel") {
    allow(req, "POST");
    return json(200, await backend.cancel(parseId(parts[1]), caller.caller));
  }
  throw new OrchError("not_found", `no such path: ${path}`);
}

function allow(req: Request, method: string): void {
  if (req.method !== method) {
    throw new OrchError("not_allowed", `method ${req.method} not allowed here; use ${method}`);
  }
}

function parseId(text: string): number {
  if (!/^\d{1,15}$/.test(text) || Number(text) < 1) {
    throw new OrchError("invalid", `job id ${JSON.stringify(text)} is not a positive integer`);
  }
  return Number(text);
}

function intParam(url: URL, key: string, min: number, max: number): number | undefined {
  const v = url.searchParams.get(key);
  if (v === null) return undefined;
  if (!/^\d{1,16}$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new OrchError(
      "invalid",
      `query parameter ${key}: expected an integer ${min}..${max}, got ${JSON.stringify(v)}`,
    );
  }
  return Number(v);
}

function floatParam(url: URL, key: string, min: number, max: number): number | undefined {
  const v = url.searchParams.get(key);
  if (v === null) return undefined;
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || n < min || n > max) {
    throw new OrchError(
      "invalid",
      `query parameter ${key}: expected seconds ${min}..${max}, got ${JSON.stringify(v)}`,
    );
  }
  return n;
}

async function readJson(req: Request): Promise<unknown> {
  const type = req.headers.get("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) {
    throw new OrchError(
      "invalid",
      `expected a JSON body (Content-Type: application/json), got ${JSON.stringify(type)}`,
    );
  }
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > LIMITS.maxRequestBody) {
    throw new OrchError(
      "too_large",
      `request body of ${declared} bytes exceeds ${LIMITS.maxRequestBody}`,
    );
  }
  const bytes = await readLimited(req, LIMITS.maxRequestBody);
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw new OrchError("invalid", `request body is not valid JSON: ${errorMessage(err)}`);
  }
}

async function readLimited(req: Request, max: number): Promise<Uint8Array> {
  if (!req.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req.body) {
    size += chunk.length;
    if (size > max) throw new OrchError("too_large", `request body exceeds ${max} bytes`);
    chunks.push(chunk);
  }
  return concatBytes(chunks);
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });
}

/** The response for an error. */
export function errorResponse(err: OrchError): Response {
  return json(ERROR_CODES[err.code], errorToBody(err));
}
