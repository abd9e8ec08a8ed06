import { join } from "node:path";
import { assertEquals } from "../../_helpers/assert.ts";
import { withTempDir } from "../../_helpers/proc.ts";
import { SqliteStore } from "../../../lib/store/sqlite_store.ts";
import { Journal } from "../../../lib/store/journal.ts";
import { jobRecord, queuedTask } from "./conformance.ts";

async function modeOf(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

/** Runs `fn` with the process umask at 022 (files 0644 unless made otherwise), then restores it. */
async function underUmask022(fn: () => Promise<void>): Promise<void> {
  const before = Deno.umask(0o022);
  try {
    await fn();
  } finally {
    Deno.umask(before);
  }
}

Deno.test("a conductor database and its WAL are created 0600 under umask 022", async () => {
  await underUmask022(() =>
    withTempDir(async (dir) => {
      const path = join(dir, "conductor.db");
      const store = SqliteStore.open(path, { create: true });
      try {
        await store.write((tx) => tx.insertJob(jobRecord(1), [queuedTask(1, 1, 1, "p1")]));
        assertEquals(await modeOf(path), 0o600);
        assertEquals(await modeOf(`${path}-wal`), 0o600);
      } finally {
        await store.close();
      }
    })
  );
});

Deno.test("an existing conductor database readable by others is made 0600, with a warning", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "conductor.db");
    await SqliteStore.open(path, { create: true }).close();
    await Deno.chmod(path, 0o644);
    const warned: string[] = [];
    const store = SqliteStore.open(path, {
      warn: (message, fields) => warned.push(`${message} ${JSON.stringify(fields)}`),
    });
    try {
      // The file, and the -wal and -shm that SQLite made with its mode on opening it.
      for (const f of [path, `${path}-wal`, `${path}-shm`]) {
        const m = await Deno.stat(f).then((st) => st.mode! & 0o777, () => null);
        if (m !== null) assertEquals(m, 0o600, f);
      }
      assertEquals(warned.length > 0, true);
      assertEquals(warned[0].includes(`"file":${JSON.stringify(path)}`), true, warned[0]);
      assertEquals(warned.every((w) => w.includes('"was":"0644"')), true, warned.join("\n"));
    } finally {
      await store.close();
    }
  });
});

Deno.test("a player journal is created 0600 under umask 022", async () => {
  await underUmask022(() =>
    withTempDir(async (dir) => {
      const path = join(dir, "journal.db");
      const journal = Journal.open(path);
      try {
        assertEquals(await modeOf(path), 0o600);
        for (const f of [`${path}-wal`, `${path}-shm`]) {
          const m = await Deno.stat(f).then((s) => s.mode! & 0o777, () => null);
          if (m !== null) assertEquals(m, 0o600, f);
        }
      } finally {
        journal.close();
      }
    })
  );
});
