/**
 * `orch store migrate --from sqlite:PATH --to postgres://…`: copies a
 * stopped conductor's SQLite database into an empty PostgreSQL database,
 * whole, in one transaction, and prints the rows of each table.
 *
 * @module
 */

import { command } from "../lib/cli/spec.ts";
import { parseStoreSpec, shownStore, storeConnection } from "../lib/config/mod.ts";
import { OrchError } from "../lib/errors.ts";
import { DEFAULT_BATCH, MAX_BATCH, migrateSqliteToPg } from "../lib/store/migrate.ts";
import { err, out } from "./_common.ts";
import { summaryOf } from "./_commands.ts";
import { safe } from "./_safe.ts";

const migrateCommand = command({
  name: "migrate",
  summary:
    "copy a stopped conductor's SQLite database into an empty PostgreSQL database (one transaction: all or nothing)",
  description:
    "Prints the rows of each table, the same in both, and progress on stderr. Refuses a " +
    "PostgreSQL database that already holds a conductor's rows, or that a conductor leads on; " +
    "a copy that fails leaves nothing there.",
  options: [
    {
      long: "from",
      value: "store",
      help: "the SQLite database: sqlite:PATH; needed",
      complete: "file",
    },
    {
      long: "to",
      value: "store",
      help:
        "the PostgreSQL database: postgres://USER@HOST[:PORT]/DB[?sslmode=…&sslrootcert=…] or postgres://USER@/DB?host=SOCKETDIR (no password in it); needed",
    },
    {
      long: "store-password-file",
      value: "file",
      help: "file holding the PostgreSQL password (mode 0600)",
      shows: "ORCH_STORE_PASSWORD, else PGPASSWORD",
      complete: "file",
    },
    {
      long: "store-tls-ca",
      value: "file",
      help: "CA certificates (PEM) to check the server's against",
      complete: "file",
    },
    {
      long: "batch",
      value: "rows",
      help: `rows read and written at once (1–${MAX_BATCH})`,
      default: String(DEFAULT_BATCH),
    },
    { long: "quiet", help: "no progress lines on stderr" },
  ],
  examples: [
    {
      says: "Copy the conductor's database into PostgreSQL, the password from a file",
      cmd:
        "orch store migrate --from sqlite:/var/lib/orchestra/conductor.db --to postgres://orch@db.example.net/orch --store-password-file /etc/orchestra/db.password",
    },
    {
      says: "The same over a local socket, with no progress lines",
      cmd:
        "orch store migrate --from sqlite:/var/lib/orchestra/conductor.db --to 'postgres://orch@/orch?host=/run/postgresql' --quiet",
    },
  ],
  async run(input) {
    const fromText = input.str("from");
    const toText = input.str("to");
    const batch = input.str("batch")!;
    if (fromText === undefined || toText === undefined) {
      throw new OrchError("usage", "--from and --to are both needed", {
        hint:
          "orch store migrate --from sqlite:/var/lib/orchestra/conductor.db --to postgres://orch@db/orch",
      });
    }
    const from = parseStoreSpec(fromText, "--from");
    if (from.kind !== "sqlite") {
      throw new OrchError("usage", "--from must be a SQLite database (sqlite:PATH)");
    }
    const to = parseStoreSpec(toText, "--to");
    if (to.kind !== "postgres") {
      throw new OrchError("usage", "--to must be a PostgreSQL database (postgres://…)");
    }
    if (
      !/^\d{1,6}$/.test(batch) || Number(batch) < 1 || Number(batch) > MAX_BATCH
    ) {
      throw new OrchError(
        "usage",
        `--batch ${JSON.stringify(batch)} is not a number of rows from 1 to ${MAX_BATCH}`,
      );
    }
    const conn = await storeConnection(to, {
      passwordFile: input.str("store-password-file"),
      tlsCa: input.str("store-tls-ca"),
    });
    const quiet = input.flag("quiet");
    const started = performance.now();
    if (!quiet) {
      err(
        `copying ${safe(shownStore(from))} into ${safe(shownStore(to))} (password: ${
          safe(conn.passwordFrom)
        })`,
      );
    }
    const result = await migrateSqliteToPg({
      from: from.path,
      to: { url: conn.url, password: conn.password, tls: conn.tls },
      batch: Number(batch),
      progress: quiet ? undefined : (p) => err(`${p.table}: ${p.copied} of ${p.total} rows`),
      warn: (message, fields) => err(`warning: ${safe(message)} (${safe(JSON.stringify(fields))})`),
    });
    const seconds = (performance.now() - started) / 1000;
    const width = Math.max(...result.tables.map((t) => t.table.length));
    out(`${"table".padEnd(width)}  rows (the same in both)`);
    for (const t of result.tables) out(`${t.table.padEnd(width)}  ${t.rows}`);
    out(
      `copied ${result.rows} rows in ${seconds.toFixed(1)} s into ${
        safe(shownStore(to))
      }; counts checked table by table`,
    );
  },
});

/** `orch store`. */
export const storeCommand = command({
  name: "store",
  summary: summaryOf("store"),
  commands: [migrateCommand],
  examples: [
    {
      says: "Move a stopped conductor's queue from SQLite to PostgreSQL",
      cmd:
        "orch store migrate --from sqlite:/var/lib/orchestra/conductor.db --to postgres://orch@db.example.net/orch",
    },
  ],
});
