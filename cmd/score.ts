/**
 * `orch score lint [DIR]`: checks a scores directory before it is deployed.
 *
 * @module
 */

import { command } from "../lib/cli/spec.ts";
import { accountProblem } from "../lib/exec/mod.ts";
import { formatProblem, scanScores } from "../lib/score/mod.ts";
import { EXIT, exitState, out } from "./_common.ts";
import { summaryOf } from "./_commands.ts";
import { safe } from "./_safe.ts";

const lintCommand = command({
  name: "lint",
  summary: "check each score's name, executable bit and conf; print problems as FILE:LINE: message",
  description:
    "Prints a line for each valid score (its interface, parameters, response, user), one for each " +
    "problem, and a count. Exits 3 when it found an error (or, with --strict, a hint), else 0.",
  args: [
    {
      name: "dir",
      help: "the scores directory (default: /usr/lib/orchestra/scores)",
      complete: "dir",
    },
  ],
  options: [{ long: "strict", help: "count hints as problems too" }],
  examples: [
    { says: "Check the scores installed on this host", cmd: "orch score lint" },
    {
      says: "Check a scores folder before deploying it, failing on hints too",
      cmd: "orch score lint ./scores --strict",
    },
  ],
  async run(input) {
    const dir = input.args[0] ?? "/usr/lib/orchestra/scores";
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
      `${catalog.dir}: ${plural(catalog.scores.size, "valid score")}, ${plural(errors, "error")}, ${
        plural(hints, "hint")
      }`,
    ));
    if (errors > 0 || (input.flag("strict") && hints > 0)) exitState.code = EXIT.failure;
  },
});

/** `orch score`. */
export const scoreCommand = command({
  name: "score",
  summary: summaryOf("score"),
  commands: [lintCommand],
  examples: [{ says: "Check a scores folder", cmd: "orch score lint ./scores" }],
});
