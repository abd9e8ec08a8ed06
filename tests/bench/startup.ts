/**
 * Start-up of the audience commands, against an empty Deno script started
 * the same way: `orch --version` and `orch status JOB` (socket), measured
 * as alternating pairs with the empty script in one run; `orch submit
 * hello --all --wait` on many local players over the socket and over
 * HTTPS; where `orch status`'s time goes (importing the client, a request
 * written by hand on the socket, one `job()` through the client); and a
 * player's memory when connected and idle. From the source (`deno run
 * main.ts`) and, when `dist/` holds a bundle, from it.
 *
 * Run: `make bench` (or `deno run -A tests/bench/startup.ts [pairs] [players]`).
 * Prints figures; never fails on timing.
 *
 * @module
 */

import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Cluster } from "../_helpers/cluster.ts";
import { orchCommand, ROOT, until } from "../_helpers/proc.ts";

const PAIRS = Number(Deno.args[0] ?? 20);
const PLAYERS = Number(Deno.args[1] ?? 50);
/** How long a player is left connected and idle before its memory is read. */
const IDLE_MS = 5000;

/** Median and max of `ms`. */
function stats(ms: number[]): { median: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, max: s[s.length - 1] };
}

/** bash, whose `time` gives a child's CPU time as well as its wall time; null without it. */
const BASH = await Deno.stat("/bin/bash").then(() => "/bin/bash", () => null);

/** Wall and CPU (user + system) time of one run, in ms; CPU is null without bash. */
interface Took {
  wall: number;
  cpu: number | null;
}

/** Runs `cmd` to its end and times it. Throws unless it exits 0. */
async function timed(cmd: string[], env: Record<string, string>): Promise<Took> {
  // bash's time keyword measures the command alone; the command is passed as arguments, not as text.
  const [program, args] = BASH === null
    ? [cmd[0], cmd.slice(1)]
    : [BASH, ["-c", 'TIMEFORMAT="orch-bench-time %3R %3U %3S"; time "$@"', "bash", ...cmd]];
  const t0 = performance.now();
  const out = await new Deno.Command(program, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const wall = performance.now() - t0;
  const stderr = new TextDecoder().decode(out.stderr);
  if (out.code !== 0) {
    throw new Error(`${cmd.join(" ")} exited ${out.code}: ${stderr.slice(0, 500)}`);
  }
  const m = /orch-bench-time ([\d.]+) ([\d.]+) ([\d.]+)\s*$/.exec(stderr);
  if (m === null) return { wall, cpu: null };
  return { wall: Number(m[1]) * 1000, cpu: (Number(m[2]) + Number(m[3])) * 1000 };
}

/** One line of figures: wall time median and max, CPU time median, and their ratios to `base`. */
function line(label: string, took: Took[], base?: Took): string {
  const wall = stats(took.map((t) => t.wall));
  const cpus = took.map((t) => t.cpu).filter((c): c is number => c !== null);
  const cpu = cpus.length > 0 ? stats(cpus).median : null;
  let text = `  ${label.padEnd(54)} wall median ${wall.median.toFixed(1).padStart(7)} ms, max ${
    wall.max.toFixed(1).padStart(7)
  } ms`;
  if (cpu !== null) text += `; cpu median ${cpu.toFixed(1).padStart(6)} ms`;
  if (base !== undefined) {
    text += `  | ${(wall.median / base.wall).toFixed(2)}x empty`;
    if (cpu !== null && base.cpu !== null) text += ` (cpu ${(cpu / base.cpu).toFixed(2)}x)`;
  }
  return text;
}

/**
 * Runs the empty script and each of `others` in turn, `PAIRS` times, the
 * order alternating from one round to the next; prints each with its ratio
 * to the empty script's median of the same rounds.
 */
async function pairs(
  title: string,
  others: [string, string[]][],
  env: Record<string, string>,
): Promise<void> {
  const empty = [Deno.execPath(), "run", "--allow-all", "--quiet", "--no-prompt", scripts.empty];
  const all: [string, string[]][] = [["empty Deno script", empty], ...others];
  for (const [, cmd] of all) await timed(cmd, env); // warm the module cache
  const times = all.map(() => [] as Took[]);
  for (let round = 0; round < PAIRS; round++) {
    const order = all.map((_, i) => i);
    if (round % 2) order.reverse();
    for (const i of order) times[i].push(await timed(all[i][1], env));
  }
  const cpus = times[0].map((t) => t.cpu).filter((c): c is number => c !== null);
  const base = {
    wall: stats(times[0].map((t) => t.wall)).median,
    cpu: cpus.length > 0 ? stats(cpus).median : null,
  };
  console.log(`${title} (${PAIRS} rounds, alternating; load average ${await loadAverage()})`);
  all.forEach(([label], i) => console.log(line(label, times[i], i === 0 ? undefined : base)));
}

/** The 1-minute load average: other work on the machine stretches wall times. */
async function loadAverage(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")[0];
}

const dir = await Deno.makeTempDir({ prefix: "orch-bench-startup-" });
const clientMod = pathToFileURL(join(ROOT, "lib/client/mod.ts")).href;
const scripts = {
  empty: join(dir, "empty.ts"),
  importClient: join(dir, "import_client.ts"),
  rawSocket: join(dir, "raw_socket.ts"),
  clientJob: join(dir, "client_job.ts"),
};
await Deno.writeTextFile(scripts.empty, "");
await Deno.writeTextFile(scripts.importClient, `import "${clientMod}";\n`);
await Deno.writeTextFile(
  scripts.rawSocket,
  `// One GET on the socket, written by hand: the transport's floor (no proof, so 401 is fine).
const conn = await Deno.connect({ transport: "unix", path: Deno.args[0] });
await conn.write(new TextEncoder().encode(
  "GET /v1/jobs/" + Deno.args[1] + " HTTP/1.1\\r\\nhost: x\\r\\nconnection: close\\r\\n\\r\\n",
));
const buf = new Uint8Array(65536);
while ((await conn.read(buf)) !== null);
conn.close();
`,
);
await Deno.writeTextFile(
  scripts.clientJob,
  `import { AudienceClient } from "${clientMod}";
const client = new AudienceClient({ kind: "socket", path: Deno.args[0] });
await client.job(Number(Deno.args[1]));
`,
);

/** The bundle in dist/, if one was built: the code-split main.js, or the one-file orch.js. */
async function findBundle(): Promise<string | null> {
  for (const p of ["dist/bundle/main.js", "dist/orch/main.js", "dist/orch.js"]) {
    if (await Deno.stat(join(ROOT, p)).then((i) => i.isFile, () => false)) return join(ROOT, p);
  }
  return null;
}

const names = Array.from({ length: PLAYERS }, (_, i) => `p${String(i + 1).padStart(2, "0")}`);
const started = performance.now();
{
  await using c = await Cluster.create({ players: names });
  await c.startConductor(["--log-level", "info"]);
  // Started together, they take a while to connect on a busy machine: waited for together.
  for (const p of names) await c.startPlayer(p, { extra: ["--log-level", "warn"], wait: false });
  await until(
    `${PLAYERS} players connected`,
    async () => {
      const players = await c.client.players();
      return players.filter((p) => p.connected && p.slots > 0).length === PLAYERS;
    },
    300_000,
    500,
  );
  const id = await c.client.submit({ score: "hello", scope: "all", targets: names, params: {} });
  await c.client.waitJob(id, { timeoutMs: 60_000 });
  // No user or system client config file changes what is measured.
  const env = { NO_COLOR: "1", XDG_CONFIG_HOME: join(dir, "xdg"), HOME: dir };
  const bundle = await findBundle();
  const entries: [string, string | undefined][] = [["source", undefined]];
  if (bundle !== null) entries.push([`bundle ${bundle.slice(ROOT.length)}`, bundle]);

  console.log(
    `orch start-up, ${Deno.build.target}, deno ${Deno.version.deno}, ${PLAYERS} players on loopback`,
  );
  for (const [label, entry] of entries) {
    const orch = (args: string[]) => [...orchCommand(entry), ...args];
    await pairs(`\n${label}: orch --version and orch status over the socket`, [
      ["orch --version", orch(["--version"])],
      [`orch status ${id} --socket`, orch(["status", String(id), "--socket", c.socket])],
    ], env);
  }

  const run = (s: string, ...args: string[]) => [
    Deno.execPath(),
    "run",
    "--allow-all",
    "--quiet",
    "--no-prompt",
    s,
    ...args,
  ];
  await pairs("\nwhere orch status's time goes (scripts, no orch command line)", [
    ["import lib/client/mod.ts only", run(scripts.importClient)],
    ["GET on the socket written by hand (no import)", run(scripts.rawSocket, c.socket, String(id))],
    [
      "import lib/client/mod.ts + one job() on the socket",
      run(scripts.clientJob, c.socket, String(id)),
    ],
  ], env);

  for (const [label, entry] of entries) {
    const submit = (via: string[]) => [
      ...orchCommand(entry),
      "submit",
      "hello",
      "--all",
      "--target",
      names.join(","),
      "--wait",
      ...via,
    ];
    await pairs(`\n${label}: orch submit hello --all --target <${PLAYERS} players> --wait`, [
      ["over the socket", submit(["--socket", c.socket])],
      ["over HTTPS (mTLS)", submit(c.httpsFlags("alice"))],
    ], env);
  }

  // The job alone: the same submit and wait through the client library in this process (no
  // process start, no command line), the floor any orch command pays for this job.
  const inProcess: number[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const t0 = performance.now();
    const job = await c.client.submit({ score: "hello", scope: "all", targets: names, params: {} });
    await c.client.waitJob(job, { timeoutMs: 60_000 });
    inProcess.push(performance.now() - t0);
  }
  const floor = stats(inProcess);
  console.log(
    `\nthe job itself: submit + wait through the client library in-process (${PAIRS} runs): ` +
      `wall median ${floor.median.toFixed(1)} ms, max ${floor.max.toFixed(1)} ms`,
  );

  // A player's memory once connected and idle.
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const rss: number[] = [];
  for (const p of names) {
    const pid = c.players.get(p)!.child.pid;
    const status = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => "");
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status);
    if (kb) rss.push(Number(kb[1]) / 1024);
  }
  if (rss.length > 0) {
    const s = stats(rss);
    console.log(
      `\nplayer resident memory after ${
        IDLE_MS / 1000
      }s connected and idle (VmRSS, ${rss.length} players): ` +
        `median ${s.median.toFixed(1)} MiB, max ${s.max.toFixed(1)} MiB`,
    );
  }
}
await Deno.remove(dir, { recursive: true });
console.log(
  `(measured in ${((performance.now() - started) / 1000).toFixed(0)} s; ` +
    `command: deno run -A tests/bench/startup.ts ${PAIRS} ${PLAYERS})`,
);
