/**
 * Shared pieces of the fault suite: the test scores, counting what the
 * `append` score wrote, and reporting figures.
 *
 * @module
 */

import { join } from "node:path";
import { ROOT } from "../_helpers/proc.ts";

/** The scores the fault tests run. */
export const FAULT_SCORES = join(ROOT, "tests/testdata/scores");

/** Lines written by the `append` score in `dir`: "job task attempt" per run, by player. */
export async function appendedRuns(dir: string): Promise<Map<string, string[]>> {
  const runs = new Map<string, string[]>();
  for await (const e of Deno.readDir(dir)) {
    if (!e.name.endsWith(".log")) continue;
    const text = await Deno.readTextFile(join(dir, e.name));
    runs.set(e.name.slice(0, -4), text.split("\n").filter((l) => l !== ""));
  }
  return runs;
}

/** Prints one line of figures for the record (the closing note quotes them). */
export function report(test: string, figures: Record<string, string | number>): void {
  const text = Object.entries(figures).map(([k, v]) => `${k}=${v}`).join(" ");
  console.log(`FIGURES ${test}: ${text}`);
}
