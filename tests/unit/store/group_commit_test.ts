import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
} from "../../_helpers/assert.ts";
import { join } from "node:path";
import { type Database, openDatabase } from "../../../lib/store/db.ts";
import { GroupCommit } from "../../../lib/store/group_commit.ts";

const SCHEMA = [{
  version: 1,
  sql: `
    CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL) STRICT;
    CREATE TABLE parent (id INTEGER PRIMARY KEY) STRICT;
    CREATE TABLE child (
      pid INTEGER NOT NULL REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED
    ) STRICT;
  `,
}];

/** A real SQLite file in a temp dir, with a second connection that sees only what is committed. */
async function withDb(fn: (db: Database, reader: Database) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "test.db");
  const db = openDatabase(path, {
    what: "test database",
    migrations: SCHEMA,
    exclusive: false,
    create: true,
  });
  const reader = openDatabase(path, {
    what: "test database",
    migrations: SCHEMA,
    exclusive: false,
    create: false,
  });
  try {
    await fn(db, reader);
  } finally {
    reader.close();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const put = (db: Database, k: string, v = k) => () => {
  db.prepare("INSERT INTO kv (k, v) VALUES (?, ?)").run(k, v);
  return k;
};

const keys = (db: Database) =>
  (db.prepare("SELECT k FROM kv ORDER BY k").all() as { k: string }[]).map((r) => r.k);

Deno.test("writes in the same turn share one commit", async () => {
  await withDb(async (db) => {
    const gc = new GroupCommit(db, () => {});
    const ws = ["a", "b", "c"].map((k) => gc.write(put(db, k)));
    assertEquals(ws.map((w) => w.value), ["a", "b", "c"]);
    assertEquals(gc.commits, 0);
    await Promise.all(ws.map((w) => w.durable));
    assertEquals(gc.commits, 1);
    assertEquals(keys(db), ["a", "b", "c"]);
  });
});

Deno.test("writes in later turns go into a new commit", async () => {
  await withDb(async (db) => {
    const gc = new GroupCommit(db, () => {});
    await gc.write(put(db, "a")).durable;
    await gc.write(put(db, "b")).durable;
    assertEquals(gc.commits, 2);
  });
});

Deno.test("a write is not visible to others until its commit, and durable resolves after it", async () => {
  await withDb(async (db, reader) => {
    const gc = new GroupCommit(db, () => {});
    let settled = false;
    const w = gc.write(put(db, "a"));
    w.durable.then(() => (settled = true));
    assertEquals(keys(db), ["a"]); // the writer sees its own write at once
    assertEquals(keys(reader), []);
    await Promise.resolve();
    assertEquals(settled, false);
    await w.durable;
    assertEquals(gc.commits, 1);
    assertEquals(keys(reader), ["a"]);
  });
});

Deno.test("a throwing write is rolled back alone and its error passed on", async () => {
  await withDb(async (db) => {
    const gc = new GroupCommit(db, () => {});
    const a = gc.write(put(db, "a"));
    const boom = new Error("boom");
    const err = assertThrows(() =>
      gc.write(() => {
        put(db, "b")();
        throw boom;
      })
    );
    assertEquals(err, boom);
    // A constraint error inside SQLite is undone the same way.
    assertThrows(() => gc.write(put(db, "a", "again")), /UNIQUE constraint failed/);
    const c = gc.write(put(db, "c"));
    await Promise.all([a.durable, c.durable]);
    assertEquals(gc.commits, 1);
    assertEquals(keys(db), ["a", "c"]);
    assertEquals((db.prepare("SELECT v FROM kv WHERE k = 'a'").get() as { v: string }).v, "a");
  });
});

Deno.test("flush commits at once", async () => {
  await withDb(async (db, reader) => {
    const gc = new GroupCommit(db, () => {});
    const w = gc.write(put(db, "a"));
    gc.flush();
    assertEquals(gc.commits, 1);
    assertEquals(keys(reader), ["a"]);
    await w.durable;
    gc.flush(); // nothing open: no empty commit
    assertEquals(gc.commits, 1);
  });
});

Deno.test("a large group commits at once without waiting for the turn to end", async () => {
  await withDb(async (db) => {
    const gc = new GroupCommit(db, () => {});
    const ws = [];
    for (let i = 0; i < 2000; i++) ws.push(gc.write(put(db, `k${i}`)));
    assertEquals(gc.commits, 1);
    const next = gc.write(put(db, "last"));
    await Promise.all([...ws.map((w) => w.durable), next.durable]);
    assertEquals(gc.commits, 2);
    assertEquals(keys(db).length, 2001);
  });
});

Deno.test("afterCommit runs at once when nothing is open", async () => {
  await withDb((db) => {
    const gc = new GroupCommit(db, () => {});
    let ran = false;
    gc.afterCommit(() => (ran = true));
    assertEquals(ran, true);
    return Promise.resolve();
  });
});

Deno.test("afterCommit waits for the open transaction's commit", async () => {
  await withDb(async (db, reader) => {
    const gc = new GroupCommit(db, () => {});
    const w = gc.write(put(db, "a"));
    let seen: string[] | undefined;
    gc.afterCommit(() => (seen = keys(reader)));
    assertEquals(seen, undefined);
    await w.durable;
    assertEquals(seen, ["a"]);
  });
});

Deno.test("a failed commit rejects the waiting writes, undoes them and calls onFatal", async () => {
  await withDb(async (db) => {
    const fatal: unknown[] = [];
    const gc = new GroupCommit(db, (e) => fatal.push(e));
    const a = gc.write(put(db, "a"));
    // A deferred foreign key is only checked at COMMIT.
    const orphan = gc.write(() => db.prepare("INSERT INTO child (pid) VALUES (99)").run());
    let after = false;
    gc.afterCommit(() => (after = true));
    const err = await assertRejects(() => orphan.durable, /FOREIGN KEY constraint failed/);
    await assertRejects(() => a.durable, /FOREIGN KEY constraint failed/);
    assertEquals(fatal, [err]);
    assertEquals(gc.commits, 0);
    assertEquals(after, false);
    assertEquals(keys(db), []);
    assertEquals(db.isTransaction, false);
  });
});

Deno.test("after close, the open writes are committed and new ones refused", async () => {
  await withDb(async (db, reader) => {
    const gc = new GroupCommit(db, () => {});
    const w = gc.write(put(db, "a"));
    gc.close();
    assertEquals(gc.commits, 1);
    assertEquals(keys(reader), ["a"]);
    await w.durable;
    const err = assertThrows(() => gc.write(put(db, "b")));
    assertMatch(err.message, /^the store is closed$/);
    assert(!db.isTransaction);
  });
});
