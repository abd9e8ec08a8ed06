/**
 * The player's configuration keys.
 *
 * @module
 */

import { LOG_LEVELS } from "../log.ts";
import { LIMITS } from "../protocol/names.ts";
import {
  address,
  addressList,
  bool,
  duration,
  hostName,
  int,
  oneOf,
  path,
  size,
  str,
} from "./spec.ts";

/** Where the player looks for its config file when `--config` is not given. */
export const PLAYER_CONFIG_PATH = "/etc/orchestra/player.yaml";

/** Every player configuration key; each is also a flag (`scores_dir` → `--scores-dir`). */
export const playerKeys = {
  name: hostName(
    "",
    "This player's name (default: the host name); must be in its certificate and the players file.",
  ),
  conductor: addressList(
    2258,
    "The conductors' addresses, host:port (port 2258 when left out), tried in order: a YAML list or A,B,C.",
  ),
  conductor_name: str(
    "",
    "Name every conductor's certificate must hold (default: the host part of each address).",
    { allowEmpty: true },
  ),
  ca: path("/etc/orchestra/ca.crt", "The deployment CA certificate."),
  cert: path("/etc/orchestra/player.crt", "This player's certificate (role player)."),
  key: path("/etc/orchestra/player.key", "This player's private key (mode 0600)."),
  crl: path(
    "",
    'CRL from orch ca revoke; conductors whose certificate it lists are refused. Reloaded on SIGHUP and when the file changes; "" for none.',
    { allowEmpty: true },
  ),
  scores_dir: path("/usr/lib/orchestra/scores", "Folder of the scores this player may run."),
  facts_file: path(
    "",
    'File of facts about this host (key=value lines or YAML), reported to the conductor and selectable as fact.KEY=VALUE; "" for none.',
    { allowEmpty: true },
  ),
  state_dir: path("/var/lib/orchestra/player", "Folder of the player's journal."),
  slots: int(4, "Tasks run at the same time.", 1, 1024),
  heartbeat: duration(15_000, "A conductor silent this long is taken for gone.", 300),
  reconnect_max: duration(
    30_000,
    "Longest wait between attempts to reach a conductor that refuses this player (TLS or hello); one not there (down, restarting) is tried at least every 5 s, a standby as it asks.",
    100,
  ),
  kill_grace: duration(5_000, "Time between SIGTERM and SIGKILL when a score is stopped.", 0),
  stop_grace: duration(
    30_000,
    "On SIGTERM, how long running tasks may go on before they are stopped (and end interrupted).",
    0,
  ),
  live_output_rate: size(
    32 << 10,
    "Bytes a second of a running score's output streamed to the conductor as it is written (more is dropped from what is watched live, never from the result); 0 turns live output off.",
    0,
    16 << 20,
  ),
  max_frame: size(1 << 20, "Largest protocol frame accepted from the conductor.", 65536, 64 << 20),
  output_head: size(
    LIMITS.defaultOutputBytes,
    "Bytes of the start of a score's stdout, and of its stderr, kept in its result.",
    0,
    LIMITS.maxOutputBytes,
  ),
  output_tail: size(
    LIMITS.defaultOutputBytes,
    "Bytes of the end of a score's stdout, and of its stderr, kept in its result.",
    0,
    LIMITS.maxOutputBytes,
  ),
  metrics_listen: address(
    null,
    9259,
    `Address of the Prometheus metrics listener (plain HTTP, GET /metrics only); "off" (the default) disables it. A port of 0 picks a free one.`,
    { allowOff: true },
  ),
  metrics_listen_public: bool(
    false,
    "Allow metrics_listen on an address other than loopback (the metrics are served without authentication).",
  ),
  log_level: oneOf("info", LOG_LEVELS, "Least severe log lines written."),
  log_format: oneOf("text", ["text", "json"] as const, "Log lines as text or as JSON objects."),
};
