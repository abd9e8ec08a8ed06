/**
 * When a conductor that stops on purpose tells its players to dial again:
 * each player gets its own delay, spread evenly over a window sized to the
 * fleet, and retries at about that window while no conductor welcomes it,
 * so that a restarted conductor sees its players come back at a steady
 * rate instead of all at once.
 *
 * @module
 */

/** The shortest window: a few hundred players come back within a quarter of a second. */
export const MIN_RECONNECT_WINDOW_MS = 250;
/** The longest window: 13,750 players and more come back within 3 s. */
export const MAX_RECONNECT_WINDOW_MS = 3000;
/**
 * Players per millisecond of window beyond the shortest: 5 a millisecond
 * (5,000 a second) is within what one conductor admits (a handshake, a
 * hello and its commit each; `orch bench` shows 10,000 players back within
 * 2.4 s of a restart).
 */
const PLAYERS_PER_MS = 5;

/** The window over which `players` players are told to come back, in ms. */
export function reconnectWindow(players: number): number {
  const ms = MIN_RECONNECT_WINDOW_MS + Math.ceil(Math.max(0, players) / PLAYERS_PER_MS);
  return Math.min(MAX_RECONNECT_WINDOW_MS, ms);
}

/**
 * A delay for each of `players` players: the window cut in equal slots, one
 * player in each at a random place, so that they are spread evenly however
 * many there are; and the window, which is also how often each retries.
 *
 * @example
 * ```ts
 * const { delays, windowMs } = reconnectDelays(3); // windowMs 251; one delay in each third of it
 * ```
 */
export function reconnectDelays(
  players: number,
  random: () => number = Math.random,
): { delays: number[]; windowMs: number } {
  const windowMs = reconnectWindow(players);
  const slot = windowMs / Math.max(1, players);
  const delays = Array.from({ length: players }, (_, i) => Math.floor(slot * (i + random())));
  return { delays, windowMs };
}
