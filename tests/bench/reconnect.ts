/**
 * 200 players and a conductor restart: how long until every player is back,
 * and how the reconnections spread out over time (no thundering herd).
 *
 * The conductor is a real `orch conductor` process; the 200 players are real
 * players (TLS, journal, capped exponential backoff with jitter, default
 * settings) run inside this one process to spare the machine 200 runtimes.
 *
 * Run: `deno run -A tests/bench/reconnect.ts [players]`. Prints figures.
 *
 * @module
 */

import { join } from "node:path";
import { Cluster } from "../_helpers/cluster.ts";
import { until } from "../_helpers/proc.ts";
import { issueCertificate, loadTlsMaterial } from "../../lib/tls/mod.ts";
import { Journal } from "../../lib/store/mod.ts";
import { startPlayer } from "../../lib/player/mod.ts";
import { silentLogger } from "../../lib/log.ts";
import { ROOT } from "../_helpers/proc.ts";

const count = Number(Deno.args[0] ?? 200);
const names = Array.from({ length: count }, (_, i) => `node${String(i + 1).padStart(3, "0")}`);

await using c = await Cluster.create({ players: [], listed: names });
const ca = {
  certPem: await Deno.readTextFile(join(c.caDir, "ca.crt")),
  keyPem: await Deno.readTextFile(join(c.caDir, "ca.key")),
};
const first = await c.startConductor(["--log-level", "info"]);

const players = [];
for (const name of names) {
  const made = await issueCertificate(ca, {
    name,
    role: "player",
    sans: [],
    days: 1,
    now: new Date(),
  });
  await Deno.writeTextFile(join(c.caDir, `${name}.crt`), made.certPem);
  await Deno.writeTextFile(join(c.caDir, `${name}.key`), made.keyPem, { mode: 0o600 });
  const tls = await loadTlsMaterial(
    {
      ca: join(c.caDir, "ca.crt"),
      cert: join(c.caDir, `${name}.crt`),
      key: join(c.caDir, `${name}.key`),
    },
    "player",
    new Date(),
  );
  players.push(
    await startPlayer({
      name,
      conductors: [{ host: "127.0.0.1", port: c.playersPort }],
      conductorName: "localhost",
      tls,
      scoresDir: join(ROOT, "scores"),
      journal: Journal.open(join(c.dir, "state", name, "journal.db")),
      slots: 4,
      heartbeatMs: 15_000,
      reconnectMaxMs: 30_000,
      killGraceMs: 5_000,
      liveOutputRate: 0,
      maxFrame: 1 << 20,
      log: silentLogger,
    }),
  );
}
const connected = async () => (await c.client.players()).filter((p) => p.connected).length;
await until(`${count} players connected`, async () => (await connected()) === count, 60_000, 100);

async function restart(how: "SIGKILL" | "SIGTERM", downMs = 0): Promise<void> {
  const proc = c.conductor!.proc;
  const t0 = Date.now();
  proc.signal(how);
  await proc.exited;
  await new Promise((r) => setTimeout(r, downMs));
  const back = await c.startConductor(["--log-level", "info"]);
  const ready = Date.now();
  await until(`${count} players back`, async () => (await connected()) === count, 120_000, 50);
  const allBack = Date.now();
  // When each player said hello again, from the conductor's log.
  const times = back.proc.lines
    .filter((l) => l.includes("player connected"))
    .map((l) => Date.parse(l.slice(0, 24)) - ready)
    .sort((a, b) => a - b);
  const bucket = Math.max(100, Math.ceil(times[times.length - 1] / 10 / 100) * 100);
  const spread = new Map<number, number>();
  for (const t of times) {
    spread.set(Math.floor(t / bucket), (spread.get(Math.floor(t / bucket)) ?? 0) + 1);
  }
  const pct = (p: number) =>
    times[Math.min(times.length - 1, Math.floor((times.length * p) / 100))];
  console.log(
    `${how}${downMs ? ` + ${downMs / 1000}s away` : ""}: conductor down ${
      ready - t0
    } ms (until ready); all ${count} back ${allBack - ready} ms after it was ready; ` +
      `hellos after ready: p10 ${pct(10)} ms, p50 ${pct(50)} ms, p90 ${pct(90)} ms, last ${
        times[times.length - 1]
      } ms`,
  );
  console.log(
    `  hellos per ${bucket} ms after ready: ${
      [...spread].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s * bucket}ms:${n}`).join(" ")
    }`,
  );
}

console.log(`${count} players, reconnect_max 30s, backoff base 250ms, full jitter`);
await restart("SIGKILL");
await restart("SIGTERM");
await restart("SIGKILL", 20_000);
await Promise.all(players.map((p) => p.stop(1000)));
void first;
