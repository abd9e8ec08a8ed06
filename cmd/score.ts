/**
 * `orch score lint [DIR]`: checks a scores directory before it is deployed.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { accountProblem } from "../lib/exec/mod.ts";
import { formatProblem, scanScores } from "../lib/score/mod.ts";
import { EXIT, exitState, out } from "./_common.ts";
import { safe } from "./_safe.ts";

/** `orch score`. */
export function scoreCommand(): CommandUnknownOpts {
  const score = new Command("score").description("work with scores");
  score.command("lint")
    .description(
      "check each score's name, executable bit and conf; print problems as FILE:LINE: message",
    )
    .argument("[dir]", "the scores directory", "/usr/lib/orchestra/scores")
    .option("--strict", "count hints as problems too")
    .action(async (dir, opts) => {
      const catalog = await scanScores(dir, { accountProblem });
      for (const s of catalog.scores.values()) {
        const params = s.conf.params === null
          ? "any params"
          : `params: ${
            Object.entries(s.conf.params)
              .map(([name, spec]) => spec.secret ? `${name} (secret)` : name)
              .join(", ") || "none"
          }`;
        const runAs = s.conf.user === null
          ? ""
          : `; runs as ${s.conf.user}${s.conf.group === null ? "" : `:${s.conf.group}`}`;
        const response = s.conf.response === null
          ? ""
          : `; response: ${
            Object.entries(s.conf.response)
              .map(([key, spec]) => `${key} ${spec.type}${spec.required ? " (required)" : ""}`)
              .join(", ") || "none"
          }`;
        out(safe(`${s.path}: ok (${s.conf.interface}; ${params}${response}${runAs})`));
      }
      for (const p of catalog.problems) out(safe(formatProblem(p)));
      const errors = catalog.problems.filter((p) => p.severity === "error").length;
      const hints = catalog.problems.length - errors;
      const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;
      out(safe(
        `${catalog.dir}: ${plural(catalog.scores.size, "valid score")}, ${
          plural(errors, "error")
        }, ${plural(hints, "hint")}`,
      ));
      if (errors > 0 || (opts.strict && hints > 0)) exitState.code = EXIT.failure;
    });
  return score;
}
