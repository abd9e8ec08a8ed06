/**
 * What a standby pays for each hello it refuses: a real standby conductor
 * (a pair on one private PostgreSQL, the other leading) dialled by players
 * that connect over mutual TLS, send a hello, read the `not_leader` refusal
 * and go, from many connections at once, for a fixed time. Prints the
 * refusals a second it answered and the standby's CPU per refusal (from
 * /proc), from which the rate one core bears follows — the figure behind
 * the wait a standby asks of each player (`retry_ms`).
 *
 * Run: `deno run -A tests/bench/standby_refusals.ts [seconds] [connections]`.
 * Never fails on timing.
 *
 * @module
 */

import { join } from "node:path";
import { Cluster } from "../_helpers/cluster.ts";
import { PgCluster } from "../_helpers/postgres.ts";
import { startMember } from "../_helpers/conductor_pair.ts";
import { cpuMs } from "../../lib/bench/proc_stats.ts";
import { STANDBY_HELLOS_PER_S } from "../../lib/conductor/leadership.ts";
import { encodeFrame, PROTOCOL_VERSION } from "../../lib/protocol/mod.ts";
import { connectMutualTls, loadTlsMaterial } from "../../lib/tls/mod.ts";

const SECONDS = Math.max(1, Math.min(120, Number(Deno.args[0] ?? 10)));
const CONNECTIONS = Math.max(1, Math.min(256, Number(Deno.args[1] ?? 32)));

await using pg = await PgCluster.start();
const url = pg.socketUrl(await pg.createDatabase("refusals"));
await using c = await Cluster.create({ players: ["p1"] });
const leader = startMember(c, url, "conductor-a");
await leader.proc.waitFor(/conductor ready/, 30_000);
const standby = startMember(c, url, "conductor-b");
await standby.proc.waitFor(/standby: another conductor may lead/, 30_000);

const material = await loadTlsMaterial(
  {
    ca: join(c.caDir, "ca.crt"),
    cert: join(c.caDir, "p1.crt"),
    key: join(c.caDir, "p1.key"),
  },
  "player",
  new Date(),
);
const hello = encodeFrame({
  type: "hello",
  name: "p1",
  version: "bench",
  protocol: PROTOCOL_VERSION,
  slots: 1,
  scores: [],
  journal: [],
});

/** One hello refused: connect, send it, wait for the answer and the close. */
async function refusedOnce(): Promise<boolean> {
  const socket = await connectMutualTls({
    host: "127.0.0.1",
    port: standby.players,
    expectName: "localhost",
    expectRole: "conductor",
    material,
    timeoutMs: 10_000,
  });
  return await new Promise<boolean>((resolve) => {
    let answered = false;
    socket.on("data", () => answered = true);
    socket.on("error", () => {});
    socket.on("close", () => resolve(answered));
    socket.write(hello);
  });
}

const pid = standby.proc.child.pid;
const cpuBefore = cpuMs(pid) ?? 0;
const started = performance.now();
const end = started + SECONDS * 1000;
let refused = 0;
let failed = 0;
await Promise.all(
  Array.from({ length: CONNECTIONS }, async () => {
    while (performance.now() < end) {
      try {
        if (await refusedOnce()) refused++;
        else failed++;
      } catch {
        failed++;
      }
    }
  }),
);
const wallS = (performance.now() - started) / 1000;
const cpu = (cpuMs(pid) ?? 0) - cpuBefore;
const perRefusal = refused > 0 ? cpu / refused : NaN;
console.log(
  `standby refusals: ${CONNECTIONS} connections at once for ${SECONDS} s (the bench's own TLS ` +
    `clients share the machine's cores)`,
);
console.log(`  refused hellos           ${refused} (${failed} failed)`);
console.log(`  refused a second         ${(refused / wallS).toFixed(0)}`);
console.log(
  `  standby CPU              ${cpu.toFixed(0)} ms (${(cpu / 10 / wallS).toFixed(0)}% of a core)`,
);
console.log(`  standby CPU per refusal  ${perRefusal.toFixed(2)} ms`);
console.log(
  `  one core bears about     ${(1000 / perRefusal).toFixed(0)} refusals a second; ` +
    `players are paced to ${STANDBY_HELLOS_PER_S} a second`,
);
