/**
 * Whether the conductor accepts a job: every target listed, the score known,
 * the parameters, timeout and retries fit what the players announced, the
 * deadline ahead. A refused job is never stored.
 *
 * @module
 */

import { OrchError } from "../errors.ts";
import type { ScoreInfo, SubmitRequest } from "../protocol/mod.ts";
import { formatDuration } from "../config/mod.ts";
import { checkParams } from "../score/mod.ts";

/** What the conductor knows when it judges a job. */
export interface AdmissionContext {
  /** The players file. */
  authorised: ReadonlySet<string>;
  /** What each player last announced. */
  announced: ReadonlyMap<string, ReadonlyMap<string, ScoreInfo>>;
  now: number;
}

/** Throws `OrchError("invalid")` saying what is wrong with `req`, or returns. */
export function admit(req: SubmitRequest, ctx: AdmissionContext): void {
  const unknown = req.targets.filter((t) => !ctx.authorised.has(t));
  if (unknown.length > 0) {
    throw new OrchError(
      "invalid",
      `target${unknown.length > 1 ? "s" : ""} ${unknown.slice(0, 10).join(", ")}${
        unknown.length > 10 ? ` and ${unknown.length - 10} more` : ""
      } not in the players file`,
      { hint: `the conductor knows ${ctx.authorised.size} players; see: orch players` },
    );
  }
  if (req.deadline !== null && req.deadline <= ctx.now) {
    throw new OrchError(
      "invalid",
      `the deadline ${new Date(req.deadline).toISOString()} has passed`,
    );
  }

  // Judge by each target's own announcement; targets never seen are judged by any announcement.
  const declarations: { player: string; info: ScoreInfo }[] = [];
  let anywhere: { player: string; info: ScoreInfo } | undefined;
  for (const [player, scores] of ctx.announced) {
    const info = scores.get(req.score);
    if (!info) continue;
    anywhere ??= { player, info };
    if (req.targets.includes(player)) declarations.push({ player, info });
  }
  if (!anywhere) {
    const known = new Set<string>();
    for (const scores of ctx.announced.values()) for (const s of scores.keys()) known.add(s);
    throw new OrchError(
      "invalid",
      `unknown score ${JSON.stringify(req.score)}: no player has announced it`,
      {
        hint: known.size
          ? `known scores: ${[...known].sort().slice(0, 30).join(", ")}`
          : "no player has connected yet, so no score is known",
      },
    );
  }
  if (declarations.length === 0) declarations.push(anywhere);

  for (const { player, info } of declarations) {
    const on = `score ${req.score} (as declared on ${player})`;
    const check = checkParams(info.params, req.params);
    if (!check.ok) {
      throw new OrchError("invalid", `bad parameters for ${on}: ${check.problems.join("; ")}`);
    }
    if (
      req.timeout_ms !== null && info.max_timeout_ms !== null &&
      req.timeout_ms > info.max_timeout_ms
    ) {
      throw new OrchError(
        "invalid",
        `timeout ${formatDuration(req.timeout_ms)} is above the max_timeout ${
          formatDuration(info.max_timeout_ms)
        } of ${on}`,
      );
    }
    if (req.retries > 0 && !info.idempotent) {
      throw new OrchError("invalid", `${on} is not idempotent, so it cannot be retried`, {
        hint: "a score may be retried only when its conf says idempotent: true",
      });
    }
  }
}
