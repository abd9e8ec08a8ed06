/**
 * A job of the test score `ticker` (a line a tick on stdout and stderr
 * until a file exists), which a test ends when it has seen what it waits
 * for, never on a guess of how long that takes.
 *
 * @module
 */

import { join } from "node:path";
import type { Cluster } from "./cluster.ts";
import { tempDir } from "./proc.ts";

/** A running ticker job. */
export interface Ticker extends AsyncDisposable {
  id: number;
  /** The file whose existence ends every task of the job. */
  readonly stopFile: string;
  /** Lets every task of the job end (they succeed). */
  stop(): Promise<void>;
}

/** Submits `ticker` on all of `targets` with `params` (EVERY, TOKEN, LOG); its UNTIL is made here. */
export async function submitTicker(
  c: Cluster,
  targets: string[],
  params: Record<string, string> = {},
): Promise<Ticker> {
  const dir = await tempDir();
  const stopFile = join(dir.path, "stop");
  const id = await c.client.submit({
    score: "ticker",
    scope: "all",
    targets,
    params: { UNTIL: stopFile, ...params },
  });
  return {
    id,
    stopFile,
    stop: () => Deno.writeTextFile(stopFile, ""),
    [Symbol.asyncDispose]: () => dir[Symbol.asyncDispose](),
  };
}
