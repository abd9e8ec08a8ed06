/**
 * Conductors sharing one PostgreSQL database, for the tests of leadership
 * and failover (and the failover bench): each started with `--store`, its
 * own ports and socket, and the cluster's certificates.
 *
 * @module
 */

import { join } from "node:path";
import type { Cluster } from "./cluster.ts";
import { Proc } from "./proc.ts";
import { answerCheck, eventCheck } from "./openapi.ts";
import { AudienceClient } from "../../lib/client/mod.ts";

/** The lease the tests give their conductors: short, so that a takeover after a pause is quick. */
export const TEST_LEASE = "2s";

/** A loopback port free a moment ago. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** `host:port` on loopback. */
export const at = (port: number): string => `127.0.0.1:${port}`;

/** One conductor of the pair: its process, ports and socket client. */
export interface Member {
  name: string;
  proc: Proc;
  players: number;
  audience: number;
  socket: string;
  client: AudienceClient;
}

/**
 * Starts conductor `name` on the shared database `url` (either role); with
 * `ports`, on those of an earlier member (a restart in place).
 */
export function startMember(c: Cluster, url: string, name: string, ports?: Member): Member {
  // The cluster's own --db is left out: the store is the database.
  const base = c.conductorArgs();
  base.splice(base.indexOf("--db"), 2);
  const players = ports?.players ?? freePort();
  const audience = ports?.audience ?? freePort();
  const socket = join(c.dir, `${name}.sock`);
  const proc = c.track(
    new Proc(name, [
      ...base,
      "--init",
      "--store",
      url,
      "--leader-lease",
      TEST_LEASE,
      "--listen",
      at(players),
      "--audience-listen",
      at(audience),
      "--audience-socket",
      socket,
    ]),
  );
  return {
    name,
    proc,
    players,
    audience,
    socket,
    client: new AudienceClient({ kind: "socket", path: socket }, answerCheck, eventCheck),
  };
}
