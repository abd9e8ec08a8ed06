/**
 * Serving the dashboard (`/` and `/ui/…`) beside the audience API, behind
 * the same authentication: over HTTPS the audience certificate (the
 * transport already required it); on the Unix socket a local proof, like
 * every API request. A browser cannot make a proof: it reaches the
 * dashboard through the HTTPS port with an audience certificate, or
 * through `orch dashboard` on the conductor's host, which forwards a
 * loopback port to the socket with a proof of the user who runs it (over
 * an SSH tunnel from another machine, either way); see the README's
 * "Dashboard".
 *
 * @module
 */

import { OrchError } from "../errors.ts";
import { DASHBOARD_HEADERS, dashboardAsset, isDashboardPath } from "../dashboard/mod.ts";
import { type ApiHandler, errorResponse } from "./api.ts";
import type { LocalAuthenticator } from "./local_auth.ts";

/**
 * `handler` with the dashboard in front of it. `local` checks proofs on
 * the socket (null: the conductor takes none, and the socket serves no
 * dashboard).
 */
export function withDashboard(handler: ApiHandler, local: LocalAuthenticator | null): ApiHandler {
  return async (req, ctx) => {
    const path = new URL(req.url).pathname;
    if (!isDashboardPath(path)) return await handler(req, ctx);
    if (ctx.caller.transport !== "https") {
      if (local === null) {
        return errorResponse(
          new OrchError("unauthenticated", "this conductor takes no local proofs"),
        );
      }
      try {
        await local.verify(req.headers.get("authorization"));
      } catch (err) {
        if (err instanceof OrchError) return errorResponse(err);
        throw err;
      }
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      const res = errorResponse(
        new OrchError(
          "not_allowed",
          `method ${JSON.stringify(req.method)} is not allowed on ${path}; use GET`,
        ),
      );
      res.headers.set("allow", "GET");
      return res;
    }
    const asset = dashboardAsset(path);
    if (!asset) {
      return errorResponse(new OrchError("not_found", `no such path: ${JSON.stringify(path)}`));
    }
    return new Response(req.method === "HEAD" ? null : asset.body, {
      status: 200,
      headers: { ...DASHBOARD_HEADERS, "content-type": asset.type },
    });
  };
}
