/**
 * Judging what a player announces about its scores, once, when it says
 * hello: every declared parameter must be consistent and every pattern
 * must compile, within a bound on the work all its patterns take, so that
 * checking a job later never meets a pattern that fails or stalls.
 *
 * @module
 */

import type { ScoreInfo } from "../protocol/mod.ts";
import { clip } from "../protocol/validate.ts";
import { checkParamSpec } from "./conf.ts";
import { patternSize } from "./pattern.ts";

/**
 * Largest total size (see {@linkcode patternSize}) of the distinct patterns
 * one player announces: it bounds the time the conductor spends compiling
 * them, whatever a player sends.
 */
export const MAX_ANNOUNCED_PATTERN_SIZE = 100_000;

/**
 * What is wrong with the scores a player announced, naming the score and
 * the parameter; undefined when every declaration is sound. Compiles every
 * pattern (they are cached for the checks of jobs that follow).
 */
export function checkAnnouncedScores(scores: readonly ScoreInfo[]): string | undefined {
  const seen = new Set<string>();
  let total = 0;
  for (const score of scores) {
    if (score.params === null) continue;
    for (const [name, spec] of Object.entries(score.params)) {
      if (spec.pattern !== undefined && !seen.has(spec.pattern)) {
        seen.add(spec.pattern);
        total += patternSize(spec.pattern);
        if (total > MAX_ANNOUNCED_PATTERN_SIZE) {
          return `score ${score.name} parameter ${name}: the patterns announced are too large ` +
            `together (size over ${MAX_ANNOUNCED_PATTERN_SIZE})`;
        }
      }
      const problem = checkParamSpec(spec);
      if (problem) {
        return `score ${score.name} parameter ${name}: ${clip(problem, 400)}`;
      }
    }
  }
  return undefined;
}
