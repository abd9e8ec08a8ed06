/**
 * A player's resident memory when idle: a real conductor and a real player
 * process, connected, one job run, then ten seconds of idling; prints the
 * player's RSS, its anonymous part (heaps) and its file-backed part (the
 * runtime's own code), and for comparison those of an empty Deno script and
 * of one that imports node:tls, idling alike.
 *
 * The player runs as `orch player` from main.ts, and from the bundles
 * `make bundle` makes: dist/orch.js (one file) and dist/bundle/ (code
 * split, as the release holds it: `orch player` loads only its own modules).
 *
 * Run: `deno run -A tests/bench/player_memory.ts` (RUNS=N for other than 3 runs of each).
 * Prints figures.
 *
 * @module
 */

import { join } from "node:path";
import { Cluster } from "../_helpers/cluster.ts";
import { Proc, ROOT } from "../_helpers/proc.ts";
import { rssKiB } from "../../lib/bench/proc_stats.ts";

const IDLE_MS = 10_000;
/** Runs of each kind: the figure is their median (the heap's state at a moment varies). */
const RUNS = Number(Deno.env.get("RUNS") ?? 3);

/** VmRSS and its anonymous and file-backed parts, in KiB, from /proc. */
interface Memory {
  rss: number;
  anonymous: number;
  file: number;
}

function memory(pid: number): Memory {
  const rss = rssKiB(pid) ?? NaN;
  try {
    const roll = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
    const get = (k: string) => Number(roll.match(new RegExp(`^${k}:\\s+(\\d+) kB$`, "m"))?.[1]);
    return { rss, anonymous: get("Anonymous"), file: get("Rss") - get("Anonymous") };
  } catch {
    return { rss, anonymous: NaN, file: NaN };
  }
}

/** The median of `RUNS` runs of `measure`, and the range of their RSS, in MiB. */
async function median(measure: () => Promise<Memory>): Promise<string> {
  const runs: Memory[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await measure());
  runs.sort((a, b) => a.rss - b.rss);
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  const m = runs[Math.floor(runs.length / 2)];
  return `${mib(m.rss)} MiB (anonymous ${mib(m.anonymous)}, file-backed ${
    mib(m.file)
  }; ${runs.length} runs: ${mib(runs[0].rss)}..${mib(runs[runs.length - 1].rss)})`;
}

/** RSS of a Deno script `code` after idling. */
async function idleScript(code: string): Promise<Memory> {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, `${code}\nsetTimeout(() => {}, 600_000);\nconsole.log("up");\n`);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", file],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  await reader.read();
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const m = memory(child.pid);
  child.kill("SIGKILL");
  await child.status;
  reader.releaseLock();
  await child.stdout.cancel();
  await Deno.remove(file);
  return m;
}

/** The idle memory of player p1 of a fresh cluster, run by `entry` (`player` subcommand or not). */
async function idlePlayer(
  entry: string,
  subcommand: boolean,
  env: Record<string, string> = {},
): Promise<Memory> {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor(["--log-level", "info"]);
  const args = c.playerArgs("p1", ["--log-level", "info"]);
  const player = c.track(
    new Proc("p1", subcommand ? args : args.slice(1), { entry, env }),
  );
  c.players.set("p1", player);
  await c.waitConnected("p1");
  const id = await c.client.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} });
  const job = await c.wait(id);
  if (job.aggregate !== "success") throw new Error(`the job failed: ${JSON.stringify(job)}`);
  await new Promise((r) => setTimeout(r, IDLE_MS));
  return memory(player.child.pid);
}

const idle = `idle ${IDLE_MS / 1000} s`;
console.log(`player, connected, one job run, ${idle}:`);
console.log(
  `  orch player (main.ts):             ${await median(() =>
    idlePlayer(join(ROOT, "main.ts"), true)
  )}`,
);
const bundle = join(ROOT, "dist", "orch.js");
if (await Deno.stat(bundle).then(() => true, () => false)) {
  console.log(
    `  orch player (dist/orch.js):        ${await median(() => idlePlayer(bundle, true))}`,
  );
}
// Bundled as the release holds it (dist/bundle/, made by make bundle): code split, so that
// `orch player` loads the player's modules and not the rest of the command line.
const split = join(ROOT, "dist", "bundle", "main.js");
if (await Deno.stat(split).then(() => true, () => false)) {
  console.log(
    `  orch player (dist/bundle, split):  ${await median(() => idlePlayer(split, true))}`,
  );
  // Settings the player cannot make itself (V8 sizes its heap before any code runs): measured here.
  for (
    const env of [
      { DENO_V8_FLAGS: "--max-semi-space-size=1" } as Record<string, string>,
      { MALLOC_ARENA_MAX: "2" },
      { DENO_V8_FLAGS: "--max-semi-space-size=1", MALLOC_ARENA_MAX: "2" },
    ]
  ) {
    const shown = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(" ");
    console.log(`    … with ${shown}: ${await median(() => idlePlayer(split, true, env))}`);
  }
}
console.log(`empty Deno script, ${idle}:            ${await median(() => idleScript(""))}`);
console.log(
  `Deno script importing node:tls, ${idle}: ${await median(() =>
    idleScript('import "node:tls";')
  )}`,
);
