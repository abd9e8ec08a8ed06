/**
 * `orch dashboard`: serves the dashboard to a browser on this host's
 * loopback, forwarding each request to the conductor's audience socket
 * with a proof of the user who runs it (see lib/client/dashboard_proxy.ts).
 * Over SSH: `ssh -L 127.0.0.9:8080:127.0.0.9:8080 HOST orch dashboard --listen 127.0.0.9:8080`.
 *
 * @module
 */

import { resolveClientSettings } from "../lib/client/settings.ts";
import { command } from "../lib/cli/spec.ts";
import {
  checkDashboardReachable,
  parseLoopbackListen,
  randomLoopbackAddress,
  startDashboardProxy,
} from "../lib/client/dashboard_proxy.ts";
import { err, out, SOCKET_OPTION, untilSignal } from "./_common.ts";
import { summaryOf } from "./_commands.ts";
import { safe } from "./_safe.ts";

/** `orch dashboard`. */
export const dashboardCommand = command({
  name: "dashboard",
  summary: summaryOf("dashboard"),
  description:
    "Prints one address, http://127.X.Y.Z:PORT/?token=T, to open in a browser on this host (or " +
    "through an SSH tunnel), and runs until SIGINT or SIGTERM. The token is new on each run. " +
    "Refused requests are logged on stderr. A missing socket exits 6, a refused proof 2.",
  options: [
    SOCKET_OPTION,
    {
      long: "listen",
      value: "host:port",
      help: "loopback address to serve on (port 0 picks one)",
      shows: "a random 127.x.y.z, port picked",
    },
    { long: "quiet", short: "q", help: "log no refused requests" },
  ],
  examples: [
    { says: "Serve the dashboard; open the address it prints", cmd: "orch dashboard" },
    {
      says: "For a browser elsewhere, through ssh -L 127.0.0.9:8080:127.0.0.9:8080 HOST",
      cmd: "orch dashboard --listen 127.0.0.9:8080",
    },
    {
      says: "Through the socket of a conductor run by hand, logging no refused requests",
      cmd: "orch dashboard --socket ./audience.sock --quiet",
    },
  ],
  async run(input) {
    const listen = input.str("listen");
    const given = listen === undefined ? undefined : parseLoopbackListen(listen, "--listen");
    // The socket as every audience command finds it: --socket, ORCH_SOCKET, client.yaml, default.
    const socket = (await resolveClientSettings({ socket: input.str("socket") })).socket.value;
    await checkDashboardReachable(socket);
    const onRefusal = input.flag("quiet")
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
  },
});
