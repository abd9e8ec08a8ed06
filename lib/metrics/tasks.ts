/**
 * Tasks that ended, as both roles count them: a counter of tasks by score
 * and outcome, and a histogram of their durations with the same labels.
 * Score names are capped ({@linkcode MAX_SCORE_LABELS}; the rest `other`),
 * so no input can grow the series without bound.
 *
 * @module
 */

import { Counter, Histogram, type Registry } from "prom-client";
import { LabelCap } from "./labels.ts";

/** Score names kept as labels; later ones are counted as `other`. */
export const MAX_SCORE_LABELS = 200;

/** Buckets of task durations, in seconds: a tenth of a second to a day. */
const DURATION_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 86_400];

/** The names and help texts of the two metrics. */
export interface TaskOutcomeNames {
  finished: string;
  finishedHelp: string;
  duration: string;
  durationHelp: string;
}

/** Tasks ended, by score and outcome, and how long they took. */
export class TaskOutcomes {
  readonly #scores = new LabelCap(MAX_SCORE_LABELS);
  readonly #finished: Counter<"score" | "outcome">;
  readonly #durations: Histogram<"score" | "outcome">;

  constructor(registers: Registry[], names: TaskOutcomeNames) {
    this.#finished = new Counter({
      name: names.finished,
      help: names.finishedHelp,
      labelNames: ["score", "outcome"] as const,
      registers,
    });
    this.#durations = new Histogram({
      name: names.duration,
      help: names.durationHelp,
      labelNames: ["score", "outcome"] as const,
      buckets: DURATION_BUCKETS,
      registers,
    });
  }

  /** The label `score` is counted under (itself, or `other` past the cap). */
  label(score: string): string {
    return this.#scores.label(score);
  }

  /**
   * A task of `label` (from {@linkcode label}) ended with `outcome`, after
   * `seconds`, or null when it never started (counted, with no duration).
   */
  ended(label: string, outcome: string, seconds: number | null): void {
    this.#finished.inc({ score: label, outcome });
    if (seconds !== null) this.#durations.observe({ score: label, outcome }, seconds);
  }
}
