/**
 * `orch store migrate --from sqlite:PATH --to postgres://…`: copies a
 * stopped conductor's SQLite database into an empty PostgreSQL database,
 * whole, in one transaction, and prints the rows of each table.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { parseStoreSpec, shownStore, storeConnection } from "../lib/config/mod.ts";
import { OrchError } from "../lib/errors.ts";
import { DEFAULT_BATCH, MAX_BATCH, migrateSqliteToPg } from "../lib/store/migrate.ts";
import { err, out } from "./_common.ts";
import { safe } from "./_safe.ts";

/** `orch store`. */
export function storeCommand(): CommandUnknownOpts {
  const store = new Command("store").description("work on the conductor's store itself");
  store.addCommand(migrateCommand());
  return store;
}

function migrateCommand(): CommandUnknownOpts {
  return new Command("migrate")
    .description(
      "copy a stopped conductor's SQLite database into an empty PostgreSQL database (one transaction: all or nothing)",
    )
    .option("--from <store>", "the SQLite database: sqlite:PATH")
    .option(
      "--to <store>",
      "the PostgreSQL database: postgres://USER@HOST[:PORT]/DB[?sslmode=…&sslrootcert=…] or postgres://USER@/DB?host=SOCKETDIR (no password in it)",
    )
    .option(
      "--store-password-file <file>",
      "file holding the PostgreSQL password (mode 0600); else ORCH_STORE_PASSWORD, else PGPASSWORD",
    )
    .option("--store-tls-ca <file>", "CA certificates (PEM) to check the server's against")
    .option("--batch <rows>", `rows read and written at once (1–${MAX_BATCH})`, `${DEFAULT_BATCH}`)
    .option("--quiet", "no progress lines on stderr")
    .action(async (opts) => {
      if (opts.from === undefined || opts.to === undefined) {
        throw new OrchError("usage", "--from and --to are both needed", {
          hint:
            "orch store migrate --from sqlite:/var/lib/orchestra/conductor.db --to postgres://orch@db/orch",
        });
      }
      const from = parseStoreSpec(opts.from, "--from");
      if (from.kind !== "sqlite") {
        throw new OrchError("usage", "--from must be a SQLite database (sqlite:PATH)");
      }
      const to = parseStoreSpec(opts.to, "--to");
      if (to.kind !== "postgres") {
        throw new OrchError("usage", "--to must be a PostgreSQL database (postgres://…)");
      }
      if (
        !/^\d{1,6}$/.test(opts.batch) || Number(opts.batch) < 1 || Number(opts.batch) > MAX_BATCH
      ) {
        throw new OrchError(
          "usage",
          `--batch ${JSON.stringify(opts.batch)} is not a number of rows from 1 to ${MAX_BATCH}`,
        );
      }
      const conn = await storeConnection(to, {
        passwordFile: opts.storePasswordFile,
        tlsCa: opts.storeTlsCa,
      });
      const quiet = opts.quiet === true;
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
        batch: Number(opts.batch),
        progress: quiet ? undefined : (p) => err(`${p.table}: ${p.copied} of ${p.total} rows`),
        warn: (message, fields) =>
          err(`warning: ${safe(message)} (${safe(JSON.stringify(fields))})`),
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
    });
}
