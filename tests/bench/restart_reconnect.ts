/**
 * 200 players and a conductor restarted on the same database and port: how
 * long after the new conductor is ready each player is connected again
 * (median and max), after a graceful stop (SIGTERM: the conductor tells
 * each player when to come back) and after kill -9 (the players find out
 * alone and come back on their backoff); each at once, as a service
 * manager restarts it, and after 20 s away.
 *
 * The conductor is a real `orch conductor` process; the players are real
 * players (`startPlayer`: mutual TLS, journal, hello, backoff, the
 * reconnect notice; default reconnect_max), 200 of them in this one process
 * to spare the machine 200 runtimes. Times are read from the conductor's
 * own log: its "conductor ready" line, then each "player connected" line.
 *
 * Run: `deno run -A tests/bench/restart_reconnect.ts [players]`. Prints figures.
 *
 * @module
 */

import { join } from "node:path";
import { Cluster } from "../_helpers/cluster.ts";
import { ROOT, until } from "../_helpers/proc.ts";
import { issueCertificate, loadTlsMaterial } from "../../lib/tls/mod.ts";
import { Journal } from "../../lib/store/mod.ts";
import { startPlayer } from "../../lib/player/mod.ts";
import { silentLogger } from "../../lib/log.ts";

const count = Number(Deno.args[0] ?? 200);
const names = Array.from({ length: count }, (_, i) => `node${String(i + 1).padStart(3, "0")}`);

await using c = await Cluster.create({ players: [], listed: names });
const ca = {
  certPem: await Deno.readTextFile(join(c.caDir, "ca.crt")),
  keyPem: await Deno.readTextFile(join(c.caDir, "ca.key")),
};
await c.startConductor(["--log-level", "info"]);

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
// Connections that lasted: a restart now is one a player takes as a conductor that went away.
await new Promise((r) => setTimeout(r, 3500));

/** The time of a log line (its leading RFC 3339 stamp), in ms. */
const stamp = (line: string) => Date.parse(line.slice(0, line.indexOf(" ")));

async function restart(how: "SIGTERM" | "SIGKILL", awayMs: number): Promise<void> {
  const proc = c.conductor!.proc;
  proc.signal(how);
  await proc.exited;
  if (awayMs > 0) await new Promise((r) => setTimeout(r, awayMs));
  const back = await c.startConductor(["--log-level", "info"]);
  await until(`${count} players back`, async () => (await connected()) === count, 120_000, 50);
  const ready = stamp(back.proc.lines.find((l) => l.includes("conductor ready"))!);
  const first = new Map<string, number>();
  for (const line of back.proc.lines) {
    const m = line.match(/player connected player=(\S+)/);
    if (m && !first.has(m[1])) first.set(m[1], stamp(line) - ready);
  }
  const times = [...first.values()].sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(times.length * q))];
  const told = proc.lines.find((l) => l.includes("players told to reconnect"));
  console.log(
    `${how === "SIGTERM" ? "graceful stop (SIGTERM)" : "kill -9"}, ${
      awayMs ? `restarted after ${awayMs / 1000} s` : "restarted at once"
    }: ${times.length} players back; from ready to connected: first ${times[0]} ms, median ${
      at(0.5)
    } ms, p90 ${at(0.9)} ms, max ${times[times.length - 1]} ms${
      told ? ` (told: ${told.slice(told.indexOf("players="))})` : ""
    }`,
  );
  // Connections that lasted before the next restart (a welcome begins a new round after 3 s).
  await new Promise((r) => setTimeout(r, 3500));
}

const load = (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")[0];
console.log(
  `load average ${load} at the start (figures stretch on a loaded machine); ${count} real players in one process, reconnect_max 30s (5 s while the conductor is down), backoff base 250ms, full jitter`,
);
await restart("SIGTERM", 0);
await restart("SIGKILL", 0);
await restart("SIGTERM", 20_000);
await restart("SIGKILL", 20_000);
await Promise.all(players.map((p) => p.stop(1000)));
