/**
 * The shapes of names that cross boundaries: player (host) names, score
 * names and parameter keys, and the size limits that go with them.
 *
 * @module
 */

/** A host name: dot-separated labels of letters, digits and inner hyphens, at most 253 bytes. */
export const PLAYER_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** How {@linkcode PLAYER_NAME} reads to a person. */
export const PLAYER_NAME_DESC =
  "a host name (letters, digits, '-' and '.', each label 1-63 characters, at most 253 in all)";

/** A score name: the file name of an executable in the scores directory. */
export const SCORE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** How {@linkcode SCORE_NAME} reads to a person. */
export const SCORE_NAME_DESC =
  "a score name (letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128)";

/** A parameter key; it becomes part of an environment variable name (`ORC_<KEY>`). */
export const PARAM_KEY = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
/** How {@linkcode PARAM_KEY} reads to a person. */
export const PARAM_KEY_DESC = "a parameter key (a letter, then letters, digits or '_', at most 64)";

/** Limits on what a job may carry. */
export const LIMITS = {
  /** Parameters per job. */
  maxParams: 256,
  /** Bytes in one parameter value. */
  maxParamValue: 65536,
  /** Bytes in all keys and values of one job's parameters. */
  maxParamsTotal: 262144,
  /** Targets per job. */
  maxTargets: 10000,
  /** Scores one player may announce. */
  maxScores: 10000,
  /** Keys in a score's response. */
  maxResponseKeys: 1024,
  /** Bytes of a score's response. */
  maxResponseBytes: 262144,
  /** Bytes of stdout / stderr kept for display, each, before output was kept head and tail. */
  maxTailBytes: 16384,
  /** Bytes of score output one live `output` message carries. */
  maxOutputChunk: 16384,
  /** Bytes of the start, and of the end, of stdout / stderr a player keeps by default. */
  defaultOutputBytes: 16384,
  /**
   * Most bytes of the start, and of the end, of stdout / stderr a player may
   * keep: with both streams at the most and a response of 256 KiB, a result
   * of text output stays under the 1 MiB default frame.
   */
  maxOutputBytes: 131072,
  /** Bytes of an audience request body. */
  maxRequestBody: 1048576,
  /** Slots one player may declare. */
  maxSlots: 1024,
  /** Longest timeout of a run in ms (about 24.8 days: the most a timer can wait). */
  maxTimeoutMs: 2_147_483_647,
} as const;

/** Player names are compared without regard to case. */
export function normalizePlayerName(name: string): string {
  return name.toLowerCase();
}

/**
 * A conductor's address as one conductor names another (the leader, in a
 * "not the leader" answer): `host:port` or `[v6]:port`, the port 1-65535.
 */
export const CONDUCTOR_ADDRESS =
  /^(?:\[[0-9A-Fa-f:.]{2,45}\]|(?=[^:]{1,253}:)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;
/** How {@linkcode CONDUCTOR_ADDRESS} reads to a person. */
export const CONDUCTOR_ADDRESS_DESC = "a conductor address (host:port or [v6]:port)";

/** Whether two conductor addresses are the same: the same port, and host names alike but for case. */
export function sameAddress(
  a: { host: string; port: number },
  b: { host: string; port: number },
): boolean {
  return a.port === b.port && a.host.toLowerCase() === b.host.toLowerCase();
}

/** Splits a {@linkcode CONDUCTOR_ADDRESS} into host and port; null when it is not one. */
export function parseConductorAddress(text: string): { host: string; port: number } | null {
  const m = CONDUCTOR_ADDRESS.exec(text);
  if (!m) return null;
  const port = Number(m[1]);
  if (port < 1 || port > 65535) return null;
  const host = text.slice(0, text.length - m[1].length - 1);
  return { host: host.startsWith("[") ? host.slice(1, -1) : host, port };
}
