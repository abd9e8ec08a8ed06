/**
 * Whether the conductor accepts a job: every target listed, the score known,
 * the parameters, timeout and retries fit what the players announced, the
 * deadline ahead. A refused job is never stored. A one-of job is refused
 * for its parameters only when no target can take them: the targets that
 * cannot are skipped, each with its reason.
 *
 * The cost grows with the job's targets, never with the fleet: targets are
 * looked up in sets, and each distinct announcement is checked once.
 *
 * @module
 */

import { OrchError } from "../errors.ts";
import type { ScoreInfo, SubmitRequest, TriedPlayer } from "../protocol/mod.ts";
import { formatDuration } from "../config/mod.ts";
import { checkParams } from "../score/mod.ts";
import { secretKeys } from "./secrets.ts";

/** What the conductor knows when it judges a job. */
export interface AdmissionContext {
  /** The players file. */
  authorised: { has(name: string): boolean; readonly size: number };
  /** What `player` last announced for `score`. */
  announcement(player: string, score: string): ScoreInfo | undefined;
  /** Some player's announcement of `score`. */
  anywhere(score: string): { player: string; info: ScoreInfo } | undefined;
  /** Every score announced, for the hint of an unknown one. */
  knownScores(): string[];
  now: number;
}

/** What admission found out about an accepted job. */
export interface Admitted {
  /**
   * The keys of its params whose values are secret: those the request
   * marks, and those the score declares `secret: true` on any target that
   * announced it (on some player, when no target has).
   */
  secret: string[];
  /**
   * One-of: the targets whose declaration refuses the params (code
   * `bad_params`), left out of the candidates; another target remains.
   */
  skipped: TriedPlayer[];
}

/**
 * Throws `OrchError("invalid")` saying what is wrong with `req`, or returns
 * what else the conductor must know of it. A problem with a secret value is
 * described without the value.
 */
export function admit(req: SubmitRequest, ctx: AdmissionContext): Admitted {
  const unknown: string[] = [];
  for (const t of req.targets) {
    if (!ctx.authorised.has(t)) unknown.push(t);
  }
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
  const declarations = new Map<ScoreInfo, string[]>();
  for (const t of req.targets) {
    const info = ctx.announcement(t, req.score);
    if (!info) continue;
    const on = declarations.get(info);
    if (on) on.push(t);
    else declarations.set(info, [t]);
  }
  const byAnother = declarations.size === 0;
  if (byAnother) {
    const anywhere = ctx.anywhere(req.score);
    if (!anywhere) {
      const known = ctx.knownScores();
      throw new OrchError(
        "invalid",
        `unknown score ${JSON.stringify(req.score)}: no player has announced it`,
        {
          hint: known.length
            ? `known scores: ${known.slice(0, 30).join(", ")}`
            : "no player has connected yet, so no score is known",
        },
      );
    }
    declarations.set(anywhere.info, [anywhere.player]);
  }
  // Judged by another player's declaration, no target can be told apart: refused whole.
  const whole = (req.scope === "all" && (req.some ?? null) === null) || byAnother;

  const secret = secretKeys(req.params, req.secret, declarations.keys());
  // One-of: a target whose declaration refuses the params is skipped, while another may take it.
  const skipped: TriedPlayer[] = [];
  const refusals: string[] = [];
  for (const [info, players] of declarations) {
    const on = `score ${req.score} (as declared on ${players[0]})`;
    const check = checkParams(info.params, req.params);
    if (!check.ok) {
      const problems = check.problems.map((p) => {
        // A problem with a value quotes it: a secret one is named, not quoted.
        const key = secret.find((k) => p.startsWith(`parameter ${k}: `));
        if (key === undefined) return p;
        const type = info.params?.[key]?.type;
        return `parameter ${key}: the value given is not ${
          type === "int"
            ? "an integer in range"
            : type === "bool"
            ? "true or false"
            : type === "enum"
            ? "one of the values declared"
            : "what its declaration allows"
        } (it is secret, so it is not shown)`;
      });
      const message = clip(`bad parameters for ${on}: ${problems.join("; ")}`);
      if (whole) throw new OrchError("invalid", message);
      refusals.push(
        players.length > 1 ? `on ${listed(players)}: ${message}` : message,
      );
      for (const player of players) skipped.push({ player, code: "bad_params", message });
      continue;
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
  if (skipped.length > 0) {
    const out = new Set(skipped.map((x) => x.player));
    if (!req.targets.some((t) => !out.has(t))) {
      throw new OrchError("invalid", `no target can take it: ${refusals.join("; ")}`);
    }
  }
  return { secret, skipped };
}

/** Longest reason recorded for a target skipped at admission. */
const MAX_REASON = 1000;

function clip(text: string): string {
  return text.length > MAX_REASON ? `${text.slice(0, MAX_REASON - 1)}…` : text;
}

function listed(items: readonly string[]): string {
  return `${items.slice(0, 10).join(", ")}${
    items.length > 10 ? ` and ${items.length - 10} more` : ""
  }`;
}
