/**
 * The figure of `orch store migrate`: makes a SQLite conductor database of
 * JOBS jobs (default 100,000; tests/bench/migrate_source.ts), starts a
 * private PostgreSQL server, runs the real command into it under
 * `/usr/bin/time -v`, and prints the time, rows per second and the peak RSS
 * of the orch process. Never fails on timing; not part of `make test`.
 *
 * Run: `deno run -A tests/bench/migrate_figure.ts [JOBS] [BATCH]`.
 *
 * @module
 */

import { join } from "node:path";
import { PgCluster } from "../_helpers/postgres.ts";
import { orchCommand, ROOT, tempDir } from "../_helpers/proc.ts";

const jobs = Deno.args[0] ?? "100000";
const batch = Deno.args[1] ?? "1000";
await using dir = await tempDir();
const db = join(dir.path, "conductor.db");
const made = await new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", join(ROOT, "tests/bench/migrate_source.ts"), db, jobs],
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (!made.success) throw new Error("making the source database failed");
const size = (await Deno.stat(db)).size;

await using pg = await PgCluster.start({ fsync: true });
const target = await pg.createDatabase("figure");
const [cmd, ...pre] = orchCommand();
const run = await new Deno.Command("/usr/bin/time", {
  args: [
    "-v",
    cmd,
    ...pre,
    "store",
    "migrate",
    "--quiet",
    "--batch",
    batch,
    "--from",
    `sqlite:${db}`,
    "--to",
    pg.socketUrl(target),
  ],
  stdout: "piped",
  stderr: "piped",
}).output();
const stdout = new TextDecoder().decode(run.stdout);
const stderr = new TextDecoder().decode(run.stderr);
if (!run.success) throw new Error(`orch store migrate failed:\n${stdout}\n${stderr}`);
console.log(stdout.trimEnd());
const rows = Number(/^copied (\d+) rows in ([\d.]+) s/m.exec(stdout)?.[1]);
const seconds = Number(/^copied \d+ rows in ([\d.]+) s/m.exec(stdout)?.[1]);
const wall = /Elapsed \(wall clock\) time.*: (.*)$/m.exec(stderr)?.[1];
const rssKiB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1]);
console.log(
  `source ${(size / 2 ** 20).toFixed(0)} MiB SQLite; copy ${seconds.toFixed(1)} s (${
    Math.round(rows / seconds).toLocaleString("en-US")
  } rows/s), whole process ${wall} wall; peak RSS ${
    (rssKiB / 1024).toFixed(0)
  } MiB; batch ${batch}; PostgreSQL fsync on`,
);
