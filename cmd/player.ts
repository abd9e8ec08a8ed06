/**
 * `orch player`: runs a player until SIGTERM or SIGINT; SIGHUP rescans the
 * scores directory and re-announces it, and reloads the CRL (which is also
 * reloaded when it changes).
 *
 * @module
 */

import { command } from "../lib/cli/spec.ts";
import { join } from "node:path";
import { PLAYER_CONFIG_PATH, playerKeys, readFactsFile } from "../lib/config/mod.ts";
import { errorMessage, OrchError } from "../lib/errors.ts";
import { mergeFacts, startPlayer, systemFacts } from "../lib/player/mod.ts";
import { PLAYER_NAME, PLAYER_NAME_DESC } from "../lib/protocol/mod.ts";
import { Journal } from "../lib/store/journal.ts";
import { checkMetricsListen } from "../lib/metrics/loopback.ts";
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

/** `orch player`. */
export const playerCommand = command({
  name: "player",
  summary: summaryOf("player"),
  description:
    "Runs until SIGTERM or SIGINT (exit 0), letting running tasks finish for stop_grace; SIGHUP " +
    "rescans the scores directory and re-reads the CRL. Every key of the config file is an option " +
    "too (--scores-dir for scores_dir); options override the file.",
  options: configOptions(playerKeys, PLAYER_CONFIG_PATH),
  examples: [
    {
      says: "Run with the settings of /etc/orchestra/player.yaml",
      cmd: "orch player",
    },
    {
      says: "Connect to two conductors of one deployment, with 8 slots",
      cmd: "orch player --conductor c1.example.net,c2.example.net --slots 8",
    },
    {
      says: "Try scores from a folder of your own, with a config file of your own",
      cmd: "orch player --config ./player.yaml --scores-dir ./scores",
    },
  ],
  async run(input) {
    const config = await configFromFlags(playerKeys, input, PLAYER_CONFIG_PATH);
    const log = stderrLogger(config.log_level, config.log_format);
    checkMetricsListen(config.metrics_listen, config.metrics_listen_public);
    if (config.conductor.length === 0) {
      throw new OrchError(
        "config",
        "no conductor address: set conductor in the config file or pass --conductor HOST:PORT[,...]",
      );
    }
    const name = config.name || Deno.hostname().toLowerCase();
    if (!PLAYER_NAME.test(name)) {
      throw new OrchError(
        "config",
        `this host's name ${JSON.stringify(name)} is not ${PLAYER_NAME_DESC}`,
        {
          hint: "set name in the config file or pass --name",
        },
      );
    }
    const tls = await loadTlsMaterial(
      { ca: config.ca, cert: config.cert, key: config.key },
      "player",
      new Date(),
    );
    if (!tls.names.includes(name)) {
      throw new OrchError("config", `certificate ${config.cert} is for ${tls.name}, not ${name}`, {
        hint: `issue one with: orch ca issue ${name} --role player (or set name to ${tls.name})`,
      });
    }
    const revocation = config.crl === ""
      ? null
      : await Revocation.open(config.crl, tls.ca, log.with({ player: name }));
    tls.revocation = revocation;
    const facts = mergeFacts(
      await systemFacts(),
      config.facts_file === "" ? {} : await readFactsFile(config.facts_file),
      config.facts_file,
    );
    const journal = Journal.open(join(config.state_dir, "journal.db"));
    let player;
    try {
      player = await startPlayer({
        name,
        conductors: config.conductor,
        conductorName: config.conductor_name,
        tls,
        scoresDir: config.scores_dir,
        journal,
        slots: config.slots,
        heartbeatMs: config.heartbeat,
        reconnectMaxMs: config.reconnect_max,
        killGraceMs: config.kill_grace,
        liveOutputRate: config.live_output_rate,
        outputHead: config.output_head,
        outputTail: config.output_tail,
        maxFrame: config.max_frame,
        log: log.with({ player: name }),
        facts,
        metricsListen: config.metrics_listen,
      });
    } catch (err) {
      journal.close();
      throw err;
    }
    revocation?.watch();
    const p = player;
    const signal = await untilSignal(["SIGTERM", "SIGINT"], () => {
      p.rescan().catch((err) => log.error("scores not rescanned", { error: errorMessage(err) }));
      revocation?.reload();
    });
    log.info("stopping", { signal });
    revocation?.close();
    await p.stop(config.stop_grace);
    exitState.code = EXIT.ok;
  },
});
