/**
 * The version of orch: what `orch --version` prints, what players and
 * conductors tell each other, kept equal to `deno.json`'s (a unit test
 * checks). Its own module so that printing it loads nothing else.
 *
 * @module
 */

/** The version of this build. */
export const ORCH_VERSION = "0.1.0";
