/**
 * `orch completion SHELL` and `orch man`: the shell completion scripts and
 * the manual page, made from the declarations that make `--help`.
 *
 * @module
 */

import { completionScript, type Shell, SHELLS } from "../lib/cli/completion.ts";
import { manPage } from "../lib/cli/man.ts";
import { command } from "../lib/cli/spec.ts";
import { ORCH_VERSION } from "../lib/version.ts";
import { OrchError } from "../lib/errors.ts";
import { loadAll, summaryOf } from "./_commands.ts";
import { EXIT_MEANINGS, out } from "./_io.ts";

/** `orch completion SHELL`. */
export const completionCommand = command({
  name: "completion",
  summary: summaryOf("completion"),
  args: [{ name: "shell", help: SHELLS.join(", "), required: true, complete: SHELLS }],
  examples: [
    {
      says: "Complete orch in bash for every user",
      cmd: "orch completion bash > /etc/bash_completion.d/orch",
    },
    { says: "Complete orch in zsh", cmd: 'orch completion zsh > "${fpath[1]}/_orch"' },
    {
      says: "Complete orch in fish",
      cmd: "orch completion fish > ~/.config/fish/completions/orch.fish",
    },
  ],
  async run(input) {
    const shell = input.args[0];
    if (!(SHELLS as readonly string[]).includes(shell)) {
      throw new OrchError(
        "usage",
        `orch completion: ${JSON.stringify(shell.slice(0, 40))} is not a shell orch completes (${
          SHELLS.join(", ")
        })`,
      );
    }
    const script = completionScript(await loadAll(), shell as Shell);
    out(script.replace(/\n$/, ""));
  },
});

/** The files orch reads, for the man page. */
const FILES: [string, string][] = [
  ["/etc/orchestra/conductor.yaml", "the conductor's configuration (orch conductor --config)"],
  ["/etc/orchestra/player.yaml", "a player's configuration (orch player --config)"],
  [
    "~/.config/orch/client.yaml",
    "the audience commands' configuration: conductor, conductor_name, cert, key, ca, socket " +
    "($XDG_CONFIG_HOME/orch/client.yaml; $ORCH_CLIENT_CONFIG names another)",
  ],
  [
    "/etc/orchestra/client.yaml",
    "the same, for every user of the host, read when the first is absent",
  ],
  ["/run/orchestra/audience.sock", "the conductor's audience socket"],
];

/** `orch man`. */
export const manCommand = command({
  name: "man",
  summary: summaryOf("man"),
  examples: [
    { says: "Read the manual", cmd: "orch man | man -l -" },
    {
      says: "Install it",
      cmd: "orch man > /usr/local/share/man/man1/orch.1",
    },
  ],
  async run() {
    const epoch = Number(Deno.env.get("SOURCE_DATE_EPOCH"));
    const date = Number.isFinite(epoch) && epoch > 0
      ? new Date(epoch * 1000).toISOString().slice(0, 10)
      : "";
    const page = manPage(await loadAll(), {
      version: ORCH_VERSION,
      date,
      files: FILES,
      exits: EXIT_MEANINGS,
    });
    out(page.replace(/\n$/, ""));
  },
});
