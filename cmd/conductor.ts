/**
 * `orch conductor`: runs the conductor until SIGTERM or SIGINT; SIGHUP
 * reloads the players file, the grants file and the CRL (which is also
 * reloaded when it changes). `--init` creates its database on a first
 * start; without it, a missing or empty database is refused.
 *
 * @module
 */

import { command } from "../lib/cli/spec.ts";
import {
  CONDUCTOR_CONFIG_PATH,
  conductorKeys,
  parseStoreSpec,
  readGrantsFile,
  readPlayersFile,
  shownStore,
  storeConnection,
  type StoreSpec,
} from "../lib/config/mod.ts";
import {
  type Conductor,
  type ConductorOptions,
  connectionBudget,
  loadSecretsKey,
  raiseFdLimit,
  startConductor,
} from "../lib/conductor/mod.ts";
import { Leadership } from "../lib/conductor/leadership.ts";
import { errorMessage, OrchError } from "../lib/errors.ts";
import { parseConductorAddress } from "../lib/protocol/mod.ts";
import type { LogFields } from "../lib/log.ts";
import { SqliteStore } from "../lib/store/mod.ts";
import { checkMetricsListen } from "../lib/metrics/mod.ts";
import { loadTlsMaterial, Revocation } from "../lib/tls/mod.ts";
import {
  configFromFlags,
  configOptions,
  EXIT,
  exitState,
  stderrLogger,
  untilSignal,
} from "./_common.ts";
import { summaryOf } from "./_commands.ts";

/** `orch conductor`. */
export const conductorCommand = command({
  name: "conductor",
  summary: summaryOf("conductor"),
  description:
    "Runs until SIGTERM or SIGINT (exit 0); SIGHUP reloads the players file, the grants file and " +
    "the CRL. Every key of the config file is an option too (--heartbeat for heartbeat); options " +
    "override the file. A bad configuration is refused (exit 2) before the database is touched.",
  options: [
    ...configOptions(conductorKeys, CONDUCTOR_CONFIG_PATH),
    {
      long: "init",
      help:
        "create the database on this first start (without it, a missing or empty database is refused)",
    },
  ],
  examples: [
    {
      says: "First start: create the database (settings from /etc/orchestra/conductor.yaml)",
      cmd: "orch conductor --init",
    },
    {
      says: "Run with another config file, and a shorter heartbeat than it says",
      cmd: "orch conductor --config ./conductor.yaml --heartbeat 5s",
    },
    {
      says: "Keep the queue in PostgreSQL, where a second conductor can stand by",
      cmd:
        "orch conductor --store postgres://orch@db.example.net/orch --store-password-file /etc/orchestra/db.password",
    },
  ],
  async run(input) {
    const config = await configFromFlags(conductorKeys, input, CONDUCTOR_CONFIG_PATH);
    const log = stderrLogger(config.log_level, config.log_format);
    const spec = storeSpecOf(config.store, config.db);
    checkMetricsListen(config.metrics_listen, config.metrics_listen_public);
    // Raised before anything is opened; logged once the configuration is found good.
    const fd = raiseFdLimit();
    const tls = await loadTlsMaterial(
      { ca: config.ca, cert: config.cert, key: config.key },
      "conductor",
      new Date(),
    );
    // A bad players file, grants file, key or CRL is refused before the database is touched: a
    // failed start changes nothing.
    await readPlayersFile(config.players_file);
    await readGrantsFile(config.grants);
    const secrets = config.secrets_key === "" ? null : await loadSecretsKey(config.secrets_key);
    const revocation = config.crl === "" ? null : await Revocation.open(config.crl, tls.ca, log);
    tls.revocation = revocation;
    const init = input.flag("init");
    if (spec.kind === "postgres") {
      for (const k of ["advertise_player", "advertise_audience"] as const) {
        if (config[k] !== "" && parseConductorAddress(config[k]) === null) {
          throw new OrchError("config", `${k}: ${JSON.stringify(config[k])} is not HOST:PORT`);
        }
      }
    }
    const conn = spec.kind === "postgres"
      ? await storeConnection(spec, {
        passwordFile: config.store_password_file,
        tlsCa: config.store_tls_ca,
      })
      : null;
    let store: SqliteStore | null = null;
    if (spec.kind === "sqlite") {
      const existed = init && (await Deno.stat(spec.path).then(() => true, () => false));
      store = SqliteStore.open(spec.path, {
        create: init,
        warn: (message, fields) => log.warn(message, fields as LogFields),
      });
      if (init) {
        log.info(
          existed
            ? "--init: the conductor database exists; it is opened as it is"
            : "created the conductor database",
          { db: spec.path },
        );
      }
    } else {
      log.info("the conductor database is in PostgreSQL; several conductors may share it", {
        store: shownStore(spec),
        password: conn!.passwordFrom,
        leader_lease: `${config.leader_lease}ms`,
      });
    }
    // Each listener's share is derived from the limit obtained.
    log.info("open file limit", {
      soft: fd.soft ?? "unknown",
      hard: fd.hard ?? "unknown",
      was: fd.before !== fd.soft ? fd.before ?? undefined : undefined,
      problem: fd.problem ?? undefined,
    });
    const budget = connectionBudget(fd.soft);
    const playersMax = config.max_connections || budget.players;
    const audienceMax = config.audience_max_connections || budget.audience;
    if (fd.soft !== null && playersMax + 2 * audienceMax > fd.soft) {
      log.warn(
        "the connection limits exceed the open file limit: running out of descriptors is possible",
        {
          max_connections: playersMax,
          audience_max_connections: audienceMax,
          soft_limit: fd.soft,
        },
      );
    }
    const options: Omit<ConductorOptions, "store"> = {
      tls,
      listen: config.listen!,
      audienceListen: config.audience_listen,
      audienceSocket: config.audience_socket === "" ? null : config.audience_socket,
      audienceSocketMode: config.audience_socket_mode,
      audienceSocketGroup: config.audience_socket_group === ""
        ? null
        : config.audience_socket_group,
      legacySocket: config.legacy_socket === "" ? null : config.legacy_socket,
      legacySocketMode: config.legacy_socket_mode,
      legacySocketGroup: config.legacy_socket_group === "" ? null : config.legacy_socket_group,
      playersFile: config.players_file,
      grantsFile: config.grants,
      heartbeatMs: config.heartbeat,
      maxFrame: config.max_frame,
      retryBackoffMs: config.retry_backoff,
      lostAfterMs: config.lost_after,
      retentionMs: config.retention,
      auditRetentionMs: config.audit_retention,
      secrets,
      limits: {
        handshakeMs: config.handshake_timeout,
        requestMs: config.request_timeout,
        playersMaxConnections: playersMax,
        playersMaxPerPeer: config.max_connections_per_peer,
        audienceMaxConnections: audienceMax,
        audienceMaxPerPeer: config.audience_max_connections_per_peer,
      },
      eventStreams: { maxStreams: config.max_event_streams },
      metricsListen: config.metrics_listen,
      metricsPerPlayer: config.metrics_per_player,
      log,
    };
    // With PostgreSQL: a conductor that leads while it holds the lock, and stands by otherwise.
    let current: () => Conductor | null;
    let done: Promise<{ error: unknown }>;
    let stop: () => Promise<void>;
    if (store === null) {
      const leadership = new Leadership({
        url: conn!.url,
        password: conn!.password,
        tls: conn!.tls,
        create: init,
        leaseMs: config.leader_lease,
        name: `${Deno.hostname()}[${Deno.pid}]`,
        advertisePlayer: config.advertise_player === "" ? null : config.advertise_player,
        advertiseAudience: config.advertise_audience === "" ? null : config.advertise_audience,
        conductor: options,
      });
      current = () => leadership.conductor;
      done = leadership.done;
      stop = () => leadership.stop();
    } else {
      let conductor: Conductor;
      try {
        conductor = await startConductor({ ...options, store });
      } catch (err) {
        await store.close();
        throw err;
      }
      current = () => conductor;
      done = conductor.done;
      stop = () => conductor.stop();
    }
    revocation?.watch();
    const signal = untilSignal(["SIGTERM", "SIGINT"], () => {
      const c = current();
      c?.reload().catch((err) =>
        log.error("players file not reloaded; keeping the old list", { error: errorMessage(err) })
      );
      c?.reloadGrants().catch((err) =>
        log.error("grants file not reloaded; keeping the grants in force", {
          error: errorMessage(err),
        })
      );
      revocation?.reload();
    });
    const why = await Promise.race([
      signal.then((s) => ({ signal: s, error: null })),
      done.then((stopped) => ({ signal: null, error: stopped.error })),
    ]);
    if (why.signal) log.info("stopping", { signal: why.signal });
    revocation?.close();
    await stop();
    if (why.error instanceof OrchError && why.error.code === "config") throw why.error;
    exitState.code = why.error !== null ? EXIT.internal : EXIT.ok;
  },
});

/** The store the keys name: `store` when given, else the SQLite file `db`; not both. */
function storeSpecOf(store: string, db: string): StoreSpec {
  if (store === "") return { kind: "sqlite", path: db };
  if (db !== conductorKeys.db.default) {
    throw new OrchError("config", "both store and db are given; give one", {
      hint: "store takes sqlite:PATH too",
    });
  }
  return parseStoreSpec(store, "store");
}
