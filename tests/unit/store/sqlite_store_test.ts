import { join } from "node:path";
import { SqliteStore } from "../../../lib/store/sqlite_store.ts";
import { storeConformance } from "./conformance.ts";

storeConformance("sqlite", async () => {
  const dir = await Deno.makeTempDir({ prefix: "orch-store-" });
  const path = join(dir, "conductor.db");
  const opened = {
    store: SqliteStore.open(path) as SqliteStore,
    async reopen() {
      await opened.store.close();
      opened.store = SqliteStore.open(path);
      return opened.store;
    },
    async close() {
      await opened.store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
  return opened;
});
