/**
 * Orchestra's audience protocol (`lib/protocol/legacy.ts`) on a second,
 * optional Unix socket, for Orchestra's existing clients. The caller is
 * the local user the kernel names as the socket's peer (`SO_PEERCRED`);
 * each request is translated into the audience API's own request and
 * handed to the same handler as the other listeners, so the grants, the
 * audit trail, the validation and the store are exactly the API's.
 *
 * @module
 */

import { dirname } from "node:path";
import { errorMessage, OrchError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { socketGroupId } from "./socket_group.ts";
import {
  API_PREFIX,
  decodeLegacyRequest,
  errorFromBody,
  type JobViewJson,
  JsonObjectScanner,
  LEGACY_MAX_REQUEST,
  type LegacyReply,
  legacyStatus,
  MAX_TASK_PAGE,
  type TaskPageJson,
  type TaskViewJson,
} from "../protocol/mod.ts";
import type { ApiHandler } from "./api.ts";
import { clearStaleSocket } from "./http.ts";
import type { LocalUsers } from "./local_users.ts";
import { type PeerRequest, type PeerSocket, servePeerSocket } from "./peer_socket.ts";

/** Options of {@linkcode startLegacySocket}. */
export interface LegacySocketOptions {
  path: string;
  mode: number;
  /** Group of the socket (a name or a number), or null to leave the conductor's. */
  group: string | null;
  handler: ApiHandler;
  users: LocalUsers;
  /** A request must arrive whole within this time. */
  requestMs: number;
  /** Connections held at once. */
  maxConnections: number;
  log: Logger;
}

/** Pages of tasks read for one status, at most (a job has at most 10,000 tasks). */
const MAX_PAGES = 100;

const WHAT = "legacy socket";

/**
 * Starts serving Orchestra's protocol on `opts.path`. Throws
 * `OrchError("config")` naming the key when it cannot: no FFI (not glibc
 * Linux), an unknown group, a path in use.
 */
export async function startLegacySocket(opts: LegacySocketOptions): Promise<PeerSocket> {
  const gid = socketGroupId("legacy_socket_group", opts.group);
  await clearStaleSocket(opts.path, WHAT);
  try {
    await Deno.mkdir(dirname(opts.path), { recursive: true, mode: 0o755 });
  } catch (err) {
    throw new OrchError(
      "config",
      `legacy_socket: cannot create the folder of ${opts.path}: ${errorMessage(err)}`,
    );
  }
  let server: PeerSocket;
  try {
    server = servePeerSocket({
      path: opts.path,
      mode: opts.mode,
      gid,
      maxConnections: opts.maxConnections,
      requestMs: opts.requestMs,
      maxRequest: LEGACY_MAX_REQUEST,
      framing: () => {
        const scanner = new JsonObjectScanner();
        return (chunk) => scanner.push(chunk) !== "more";
      },
      serve: async (req) => encode(await answer(req, opts)),
      log: opts.log,
      what: WHAT,
    });
  } catch (err) {
    if (err instanceof OrchError) throw new OrchError(err.code, `legacy_socket: ${err.message}`);
    throw new OrchError(
      "config",
      `legacy_socket: Orchestra's audience socket cannot be served here: ${errorMessage(err)}`,
      { hint: 'it needs glibc on Linux; set legacy_socket to "" to turn it off' },
    );
  }
  opts.log.info("legacy socket ready", {
    path: opts.path,
    mode: opts.mode.toString(8),
    group: opts.group ?? undefined,
  });
  return server;
}

function encode(reply: LegacyReply): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(reply) + "\n");
}

/** The reply to one request; never throws. */
async function answer(req: PeerRequest, o: LegacySocketOptions): Promise<LegacyReply> {
  try {
    return await reply(req, o);
  } catch (err) {
    if (err instanceof OrchError && err.code !== "internal") return ["Error", err.message];
    o.log.error("legacy socket request failed", { error: errorMessage(err) });
    return ["Error", "internal error; see the conductor's log"];
  }
}

async function reply(req: PeerRequest, o: LegacySocketOptions): Promise<LegacyReply> {
  if (req.problem === "too_large") {
    return ["Error", `the request is larger than ${LEGACY_MAX_REQUEST} bytes`];
  }
  if (req.problem === "timeout") {
    return ["Error", `the request did not arrive whole within ${o.requestMs / 1000} s`];
  }
  if (req.body.length === 0) return ["Error", "no request was sent"];
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(req.body));
  } catch (err) {
    return ["Error", `the request is not valid JSON: ${errorMessage(err)}`];
  }
  const r = decodeLegacyRequest(value);
  const user = await o.users.lookup(req.peer.uid, req.peer.gid);
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const request = new Request(`http://conductor${API_PREFIX}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const res = await o.handler(request, {
      caller: { transport: "socket", name: user.name, auth: "peer_credentials" },
      peer: { uid: req.peer.uid, gid: req.peer.gid },
      from: `${WHAT} pid ${req.peer.pid}`,
    });
    const parsed = await res.json().catch(() => null);
    if (!res.ok) throw errorFromBody(res.status, parsed);
    return parsed;
  };
  if (r.op === "queue") {
    const made = await call("POST", "/jobs", {
      score: r.score,
      scope: r.scope,
      targets: r.players,
      params: r.params,
    }) as { id: number };
    return ["OK", made.id];
  }
  const job = await call("GET", `/jobs/${r.id}`) as JobViewJson;
  const tasks: TaskViewJson[] = [];
  for (let page = 1; page <= MAX_PAGES; page++) {
    const p = await call(
      "GET",
      `/jobs/${r.id}/tasks?page=${page}&limit=${MAX_TASK_PAGE}`,
    ) as TaskPageJson;
    tasks.push(...p.tasks);
    if (p.tasks.length === 0 || tasks.length >= p.total) break;
  }
  return ["OK", legacyStatus(job, tasks)];
}
