/**
 * `orch conductor`: runs the conductor until SIGTERM or SIGINT; SIGHUP
 * reloads the players file, the grants file and the CRL (which is also
 * reloaded when it changes). `--init` creates its database on a first
 * start; without it, a missing or empty database is refused.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import {
  CONDUCTOR_CONFIG_PATH,
  conductorKeys,
  readGrantsFile,
  readPlayersFile,
} from "../lib/config/mod.ts";
import {
  connectionBudget,
  loadSecretsKey,
  raiseFdLimit,
  startConductor,
} from "../lib/conductor/mod.ts";
import { errorMessage } from "../lib/errors.ts";
import type { LogFields } from "../lib/log.ts";
import { SqliteStore } from "../lib/store/mod.ts";
import { checkMetricsListen } from "../lib/metrics/mod.ts";
import { loadTlsMaterial, Revocation } from "../lib/tls/mod.ts";
import {
  addConfigFlags,
  configFromFlags,
  EXIT,
  exitState,
  stderrLogger,
  untilSignal,
} from "./_common.ts";

/** `orch conductor`. */
export function conductorCommand(): CommandUnknownOpts {
  const cmd = new Command("conductor")
    .description(
      "run the conductor: the durable queue that players connect to and the audience submits to",
    );
  addConfigFlags(cmd, conductorKeys, CONDUCTOR_CONFIG_PATH);
  cmd.option(
    "--init",
    "create the database on this first start (without it, a missing or empty database is refused)",
  );
  cmd.action(async (opts) => {
    const config = await configFromFlags(conductorKeys, opts, CONDUCTOR_CONFIG_PATH);
    const log = stderrLogger(config.log_level, config.log_format);
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
    // The flags are added in a loop, so commander cannot type them.
    const init = (opts as { init?: boolean }).init === true;
    const existed = init && (await Deno.stat(config.db).then(() => true, () => false));
    const store = SqliteStore.open(config.db, {
      create: init,
      warn: (message, fields) => log.warn(message, fields as LogFields),
    });
    if (init) {
      log.info(
        existed
          ? "--init: the conductor database exists; it is opened as it is"
          : "created the conductor database",
        { db: config.db },
      );
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
    let conductor;
    try {
      conductor = await startConductor({
        store,
        tls,
        listen: config.listen!,
        audienceListen: config.audience_listen,
        audienceSocket: config.audience_socket === "" ? null : config.audience_socket,
        audienceSocketMode: config.audience_socket_mode,
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
        log,
      });
    } catch (err) {
      await store.close();
      throw err;
    }
    revocation?.watch();
    const c = conductor;
    const signal = untilSignal(["SIGTERM", "SIGINT"], () => {
      c.reload().catch((err) =>
        log.error("players file not reloaded; keeping the old list", { error: errorMessage(err) })
      );
      c.reloadGrants().catch((err) =>
        log.error("grants file not reloaded; keeping the grants in force", {
          error: errorMessage(err),
        })
      );
      revocation?.reload();
    });
    const why = await Promise.race([
      signal.then((s) => ({ signal: s, error: null })),
      c.done.then((stopped) => ({ signal: null, error: stopped.error })),
    ]);
    if (why.signal) log.info("stopping", { signal: why.signal });
    revocation?.close();
    await c.stop();
    exitState.code = why.error !== null ? EXIT.internal : EXIT.ok;
  });
  return cmd;
}
