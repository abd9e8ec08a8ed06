/**
 * The conductor's configuration keys.
 *
 * @module
 */

import { LOG_LEVELS } from "../log.ts";
import { address, bool, duration, int, type Key, mode, oneOf, path, size, str } from "./spec.ts";
import { storeKeys } from "./store_spec.ts";

/** Longest retention: ten years. */
const MAX_RETENTION_MS = 3650 * 86_400_000;

/** Where the conductor looks for its config file when `--config` is not given. */
export const CONDUCTOR_CONFIG_PATH = "/etc/orchestra/conductor.yaml";

/** Every conductor configuration key; each is also a flag (`players_file` → `--players-file`). */
export const conductorKeys = {
  listen: address(
    { host: "0.0.0.0", port: 2258 },
    2258,
    "Address players connect to (TLS, client certificate required).",
  ),
  audience_listen: address(
    { host: "0.0.0.0", port: 2259 },
    2259,
    `Address of the audience HTTPS API (audience client certificate required); "off" disables it.`,
    { allowOff: true },
  ),
  audience_socket: path(
    "/run/orchestra/audience.sock",
    `Unix socket of the audience API, guarded by its file mode; "" disables it.`,
    { allowEmpty: true },
  ),
  audience_socket_mode: mode(
    0o660,
    "File mode of the audience socket: who may connect (its owner, the conductor's user; its group; others).",
  ),
  audience_socket_group: str(
    "",
    `Group of the audience socket (a name in /etc/group or a number): with the mode's group bits, its members may use the audience API (as themselves: the grants decide what they may do); "" leaves the conductor's.`,
    { allowEmpty: true },
  ),
  legacy_socket: path(
    "",
    `Unix socket speaking Orchestra's own audience protocol, for its existing clients (callers are the socket's local users, by their peer credentials; glibc Linux only); "" disables it.`,
    { allowEmpty: true },
  ),
  legacy_socket_mode: mode(0o660, "File mode of the legacy socket."),
  legacy_socket_group: str(
    "",
    `Group of the legacy socket (a name in /etc/group or a number); "" leaves the conductor's.`,
    { allowEmpty: true },
  ),
  db: path("/var/lib/orchestra/conductor.db", "The SQLite database holding the queue and results."),
  store: str(
    "",
    `Where the queue is kept, as sqlite:PATH or postgres://USER@HOST[:PORT]/DB (no password in it); "" uses db. With a PostgreSQL store several conductors may share the database, one leading at a time. Not together with a db other than its default.`,
    { allowEmpty: true },
  ),
  ...storeKeys,
  leader_lease: duration(
    5_000,
    "With a PostgreSQL store: a leader unheard of this long loses its database session, and so its leadership, to a standby.",
    1_000,
    60_000,
  ),
  advertise_player: str(
    "",
    `With a PostgreSQL store: the players' address (HOST:PORT) that standbys name to players while this conductor leads; "" derives it from listen (the host name when it listens on every address).`,
    { allowEmpty: true },
  ),
  advertise_audience: str(
    "",
    `With a PostgreSQL store: the audience HTTPS address (HOST:PORT) that standbys name to clients while this conductor leads; "" derives it from audience_listen.`,
    { allowEmpty: true },
  ),
  secrets_key: path(
    "",
    `File holding a 32-byte key (raw or base64, mode 0600) that seals secret params in the database; "" keeps them in memory only.`,
    { allowEmpty: true },
  ),
  players_file: path(
    "/etc/orchestra/players",
    "Names of the players allowed to connect, one per line; reloaded on SIGHUP.",
  ),
  grants: path(
    "/etc/orchestra/grants.yaml",
    "Who may do what through the audience API; reloaded on SIGHUP. Without the file, only root and the conductor's own user may, on the socket.",
  ),
  ca: path("/etc/orchestra/ca.crt", "The deployment CA certificate."),
  cert: path("/etc/orchestra/conductor.crt", "The conductor's certificate (role conductor)."),
  key: path("/etc/orchestra/conductor.key", "The conductor's private key (mode 0600)."),
  crl: path(
    "",
    'CRL from orch ca revoke; players and audience clients whose certificate it lists are refused. Reloaded on SIGHUP and when the file changes; "" for none.',
    { allowEmpty: true },
  ),
  heartbeat: duration(15_000, "A player silent this long is taken for gone.", 300),
  max_frame: size(1 << 20, "Largest protocol frame accepted from a player.", 65536, 64 << 20),
  retry_backoff: duration(
    5_000,
    "Wait before the first retry of a failed run; it doubles with each failure (up to 64×).",
    0,
  ),
  lost_after: duration(
    0,
    "A player gone this long has its running tasks ended interrupted; 0 waits for it for ever.",
    0,
  ),
  handshake_timeout: duration(
    10_000,
    "A connection must finish its TLS handshake within this time (players and HTTPS ports).",
    100,
    300_000,
  ),
  request_timeout: duration(
    30_000,
    "An audience request must arrive whole (headers and body) within this time (counted again after each answer, so an idle kept-alive connection is closed after it).",
    1_000,
    600_000,
  ),
  max_connections: int(
    0,
    "Connections the players port holds at most; 0 derives it from the open-file limit (three quarters of it, less a reserve).",
    0,
    10_000_000,
  ),
  audience_max_connections: int(
    0,
    "Connections each audience listener (HTTPS, socket) holds at most; 0 derives it from the open-file limit (an eighth each).",
    0,
    10_000_000,
  ),
  max_connections_per_peer: int(
    1000,
    "Connections to the players port from one IP address at most (players behind one NAT share it).",
    1,
    10_000_000,
  ),
  audience_max_connections_per_peer: int(
    64,
    "Connections to the audience HTTPS port from one IP address at most.",
    1,
    10_000_000,
  ),
  max_event_streams: int(
    100,
    "Audience event streams (GET /v1/events, /v1/jobs/ID/events) open at most; past it a new one is refused with 503. Each holds a connection and up to 1 MiB of events its client has not read; one caller holds at most 16.",
    1,
    10_000,
  ),
  retention: durationOrOff(
    30 * 86_400_000,
    `Finished jobs (with their tasks and output) older than this are pruned, in small batches, at start and every 10 minutes; 0 or "off" keeps every job.`,
  ),
  audit_retention: durationOrOff(
    400 * 86_400_000,
    `Audit records older than this are pruned whole (a record is never edited); 0 or "off" keeps every record. Longer than retention: a year's audits plus a margin outlive the jobs they speak of.`,
  ),
  metrics_listen: address(
    null,
    9258,
    `Address of the Prometheus metrics listener (plain HTTP, GET /metrics only); "off" (the default) disables it. A port of 0 picks a free one.`,
    { allowOff: true },
  ),
  metrics_listen_public: bool(
    false,
    "Allow metrics_listen on an address other than loopback (the metrics are served without authentication).",
  ),
  metrics_per_player: bool(
    false,
    "Also give each player's queue depth and oldest queued age, labelled by the player's name (two series per listed player: 20,000 at 10,000 players).",
  ),
  log_level: oneOf("info", LOG_LEVELS, "Least severe log lines written."),
  log_format: oneOf("text", ["text", "json"] as const, "Log lines as text or as JSON objects."),
};

/** A retention: a duration of a minute or more, or 0 (or "off") for keeping everything. */
function durationOrOff(def: number, doc: string): Key<number> {
  const base = duration(def, doc, 0, MAX_RETENTION_MS);
  return {
    ...base,
    placeholder: "<duration|off>",
    parse(v) {
      if (v === "off" || v === false) return 0;
      const ms = base.parse(v);
      if (ms > 0 && ms < 60_000) {
        throw new Error(`${ms}ms is too short to keep a finished job (0 or "off", or 1m..3650d)`);
      }
      return ms;
    },
  };
}
