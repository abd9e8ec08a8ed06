import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertNotMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { Proc } from "../_helpers/proc.ts";

/** The names in `dir`, sorted. */
function listing(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

/**
 * Runs `orch conductor` with `extra` flags and asserts that it is refused:
 * it exits 2 (it never gets ready), with one `orch:` message naming `path`
 * and matching `what`, and no stack trace.
 */
async function refused(c: Cluster, extra: string[], path: string, what: RegExp): Promise<void> {
  const proc = c.track(new Proc("conductor", c.conductorArgs(extra)));
  const outcome = await proc.waitFor(/conductor ready/).then(() => "ready", () => "exited");
  const status = await (outcome === "ready" ? proc.stop() : proc.exited);
  const stderr = proc.log;
  assertEquals([outcome, status.code], ["exited", 2], stderr);
  assertMatch(stderr, /^orch: /);
  assert(stderr.includes(path), `the message does not name ${path}: ${stderr}`);
  assertMatch(stderr, what);
  assertNotMatch(stderr, /\n\s+at |Error:/);
}

Deno.test("a conductor without --init refuses a database that does not exist, and creates nothing", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  const db = join(c.dir, "lost", "conductor.db");
  await refused(
    c,
    ["--db", db],
    db,
    new RegExp(
      `^orch: conductor database ${db} does not exist; on a first start, run with --init to create it\n`,
    ),
  );
  assertEquals(listing(c.dir).includes("lost"), false);
});

Deno.test("a conductor without --init refuses an empty database file and leaves it as it is", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await Deno.writeFile(c.db, new Uint8Array());
  const before = listing(c.dir);
  await refused(
    c,
    [],
    c.db,
    /is empty \(0 bytes\)[^]*hint: restore it from a backup; to start afresh, remove it and run with --init/,
  );
  assertEquals(Deno.statSync(c.db).size, 0);
  assertEquals(listing(c.dir), before);
});

Deno.test("a corrupt database file is refused with or without --init, naming the file, unchanged", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  const bytes = crypto.getRandomValues(new Uint8Array(8192));
  await Deno.writeFile(c.db, bytes);
  const before = listing(c.dir);
  for (const init of [[], ["--init"]]) {
    await refused(c, init, c.db, /is not a SQLite database, or it is damaged/);
    assertEquals(await Deno.readFile(c.db), bytes);
    assertEquals(listing(c.dir), before);
  }
});

Deno.test("a SQLite file that is not an orch conductor database is refused with or without --init, unchanged", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  const foreign = new DatabaseSync(c.db);
  foreign.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)");
  foreign.exec("INSERT INTO notes (text) VALUES ('keep me')");
  foreign.close();
  const bytes = await Deno.readFile(c.db);
  const before = listing(c.dir);
  for (const init of [[], ["--init"]]) {
    await refused(
      c,
      init,
      c.db,
      /is a SQLite database but not an orch conductor database \(it holds tables notes/,
    );
    assertEquals(await Deno.readFile(c.db), bytes);
    assertEquals(listing(c.dir), before);
  }
});

Deno.test("--init creates the database on a first start; later starts, with or without it, open it as it is", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  const first = await c.startConductor([], { init: true });
  await first.proc.waitFor(/created the conductor database/);
  const { conductor_id } = await c.client.health();
  await first.proc.stop();

  const second = await c.startConductor([], { init: false });
  assertNotMatch(second.proc.log, /created the conductor database/);
  assertEquals((await c.client.health()).conductor_id, conductor_id);
  await second.proc.stop();

  const third = await c.startConductor([], { init: true });
  await third.proc.waitFor(/--init: the conductor database exists; it is opened as it is/);
  assertNotMatch(third.proc.log, /created the conductor database/);
  assertEquals((await c.client.health()).conductor_id, conductor_id);
});
