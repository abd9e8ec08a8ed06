/**
 * `orch dashboard`: serves the dashboard to a browser on this host's
 * loopback, forwarding each request to the conductor's audience socket
 * with a proof of the user who runs it (see lib/client/dashboard_proxy.ts).
 * Over SSH: `ssh -L 127.0.0.9:8080:127.0.0.9:8080 HOST orch dashboard --listen 127.0.0.9:8080`.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import {
  checkDashboardReachable,
  parseLoopbackListen,
  randomLoopbackAddress,
  startDashboardProxy,
} from "../lib/client/dashboard_proxy.ts";
import { err, out, untilSignal } from "./_common.ts";
import { safe } from "./_safe.ts";

/** `orch dashboard`. */
export function dashboardCommand(): CommandUnknownOpts {
  const cmd = new Command("dashboard")
    .description(
      "serve the dashboard on loopback through the audience socket, as the user who runs it; prints the address to open",
    )
    .option(
      "--socket <path>",
      "the conductor's audience socket (env ORCH_SOCKET; default /run/orchestra/audience.sock)",
    )
    .option(
      "--listen <host:port>",
      "loopback address to serve on (port 0 picks one; default a random 127.x.y.z, port picked)",
    )
    .option("-q, --quiet", "log no refused requests");
  cmd.action(async (opts) => {
    const given = opts.listen === undefined
      ? undefined
      : parseLoopbackListen(opts.listen, "--listen");
    const socket = opts.socket ?? Deno.env.get("ORCH_SOCKET") ?? "/run/orchestra/audience.sock";
    await checkDashboardReachable(socket);
    const onRefusal = opts.quiet
      ? undefined
      : (what: string) => err(`orch dashboard: ${safe(what)}`);
    let proxy;
    try {
      proxy = await startDashboardProxy({
        socket,
        listen: given ?? randomLoopbackAddress(),
        onRefusal,
      });
    } catch (e) {
      if (given !== undefined) throw e;
      // A system that answers on 127.0.0.1 alone (not Linux): there, then.
      err(
        "orch dashboard: no random 127.x.y.z address here; serving on 127.0.0.1, whose other servers the browser also sends the cookie to",
      );
      proxy = await startDashboardProxy({
        socket,
        listen: parseLoopbackListen("127.0.0.1:0"),
        onRefusal,
      });
    }
    out(proxy.url);
    err(
      "open the address above in a browser on this host (or through an SSH tunnel); Ctrl-C stops",
    );
    await untilSignal(["SIGINT", "SIGTERM"]);
    await proxy.stop();
  });
  return cmd;
}
