/**
 * `orch player` as it runs once `main.ts` loads only the subcommand it runs:
 * what cmd/player.ts does, without the command-line library (flags are
 * taken as `--key value` pairs). The player memory figure uses it to measure
 * what the player itself loads, apart from the rest of the CLI.
 *
 * Run: `deno run -A tests/bench/_player_entry.ts --name p1 --conductor … (the flags of orch player)`.
 *
 * @module
 */

import { join } from "node:path";
import { loadConfig, playerKeys, readFactsFile } from "../../lib/config/mod.ts";
import { createLogger } from "../../lib/log.ts";
import { mergeFacts, startPlayer, systemFacts } from "../../lib/player/mod.ts";
import { Journal } from "../../lib/store/journal.ts";
import { loadTlsMaterial } from "../../lib/tls/files.ts";

const flags: Record<string, string> = {};
for (let i = 0; i < Deno.args.length; i += 2) {
  flags[Deno.args[i].replace(/^--/, "").replaceAll("-", "_")] = Deno.args[i + 1];
}
const config = await loadConfig(playerKeys, { flags, fileRequired: false, cwd: Deno.cwd() });
const log = createLogger({
  level: config.log_level,
  format: config.log_format,
  write: (line) => console.error(line),
}).with({ player: config.name });
const tls = await loadTlsMaterial(
  { ca: config.ca, cert: config.cert, key: config.key },
  "player",
  new Date(),
);
const facts = mergeFacts(
  await systemFacts(),
  config.facts_file === "" ? {} : await readFactsFile(config.facts_file),
  config.facts_file,
);
const player = await startPlayer({
  name: config.name,
  conductors: config.conductor,
  conductorName: config.conductor_name,
  tls,
  scoresDir: config.scores_dir,
  journal: Journal.open(join(config.state_dir, "journal.db")),
  slots: config.slots,
  heartbeatMs: config.heartbeat,
  reconnectMaxMs: config.reconnect_max,
  killGraceMs: config.kill_grace,
  liveOutputRate: config.live_output_rate,
  outputHead: config.output_head,
  outputTail: config.output_tail,
  maxFrame: config.max_frame,
  log,
  facts,
  metricsListen: config.metrics_listen,
});
const stop = () => player.stop(config.stop_grace).then(() => Deno.exit(0));
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
