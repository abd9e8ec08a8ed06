/**
 * Whether a metrics address is loopback, and the refusal of one that is
 * not unless the operator opted in: the metrics are served without
 * authentication and reveal the fleet's size and load.
 *
 * @module
 */

import { type Address, formatAddress } from "../config/mod.ts";
import { OrchError } from "../errors.ts";

/** True for `localhost`, 127.0.0.0/8 and `::1`. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Throws a config error when `listen` is not loopback and `allowPublic` is
 * false, naming the address and the key that allows it.
 */
export function checkMetricsListen(listen: Address | null, allowPublic: boolean): void {
  if (listen === null || allowPublic || isLoopback(listen.host)) return;
  throw new OrchError(
    "config",
    `metrics_listen ${formatAddress(listen)} is not a loopback address, and the metrics are ` +
      `served without authentication`,
    { hint: "use 127.0.0.1:PORT, or set metrics_listen_public: true to serve them there anyway" },
  );
}
