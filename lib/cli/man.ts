/**
 * The manual page, orch(1), in roff, from the same {@linkcode CommandSpec}
 * declarations as `--help`: every command with its usage, description,
 * arguments, options (with defaults and variables) and examples, then the
 * environment, files and exit statuses.
 *
 * @module
 */

import { commandName } from "./parse.ts";
import { argLabel, optionHelp, usageLine } from "./help.ts";
import { type CommandSpec, HELP_OPTION, type OptionSpec, VERSION_OPTION } from "./spec.ts";

/** What the man page says besides the commands. */
export interface ManPage {
  version: string;
  /** The date in the header (`2026-11-23`); empty for none, so that builds are reproducible. */
  date: string;
  /** Files read, with what they are. */
  files: readonly [string, string][];
  /** Exit statuses, with what they mean. */
  exits: readonly [number, string][];
}

/** Text made safe for roff: backslashes, dashes, characters beyond ASCII, a leading dot or quote. */
export function roff(text: string): string {
  return text
    .replaceAll("\\", "\\e")
    .replaceAll("-", "\\-")
    .replace(
      /[^ -~\n\t]/gu,
      (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}]`,
    )
    .split("\n")
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join("\n");
}

function optionLine(o: OptionSpec): string {
  const names = [o.short ? `\\-${o.short}` : null, `\\-\\-${roff(o.long)}`].filter(Boolean);
  const value = o.value ? ` \\fI${roff(o.value)}\\fR` : "";
  return `.B ${names.join(", ")}${value}`;
}

function section(spec: CommandSpec, path: readonly string[], out: string[]): void {
  if (spec.commands) {
    for (const sub of spec.commands) section(sub, [...path, sub.name], out);
    return;
  }
  out.push(`.SS "${roff(usageLine(spec, path))}"`, roff(spec.summary));
  if (spec.description) out.push(".PP", roff(spec.description));
  for (const a of spec.args ?? []) out.push(".TP", `.I ${roff(argLabel(a))}`, roff(a.help));
  for (const o of [...(spec.options ?? []), HELP_OPTION]) {
    out.push(".TP", optionLine(o), roff(optionHelp(o)));
  }
  if ((spec.examples ?? []).length) {
    out.push(".PP", "Examples:", ".RS", ".nf");
    for (const e of spec.examples!) out.push(roff(`# ${e.says}`), roff(e.cmd));
    out.push(".fi", ".RE");
  }
}

/** Every environment variable any option of `spec` reads, with what it stands for. */
function environment(spec: CommandSpec, path: readonly string[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const o of spec.options ?? []) {
    if (o.env && !found.has(o.env)) found.set(o.env, `--${o.long}: ${o.help}`);
  }
  for (const sub of spec.commands ?? []) {
    for (const [k, v] of environment(sub, [...path, sub.name])) if (!found.has(k)) found.set(k, v);
  }
  return found;
}

/** orch(1) for the root command `root`, every command loaded. */
export function manPage(root: CommandSpec, page: ManPage): string {
  const out: string[] = [
    `.TH ORCH 1 "${page.date}" "orch ${roff(page.version)}" "orch manual"`,
    ".SH NAME",
    `orch \\- ${roff(root.summary.replace(/^orch /, ""))}`,
    ".SH SYNOPSIS",
    ".B orch",
    ".I command",
    "[\\fIoptions\\fR] [\\fIarguments\\fR]",
    ".br",
    ".B orch",
    `\\-\\-help | \\-\\-version | help \\fIcommand\\fR`,
    ".SH DESCRIPTION",
    roff(root.summary),
    ".PP",
    roff(
      "Every command takes --help, which prints the same text as this page's section on it. " +
        "Options may come before or after the arguments; -- ends the options.",
    ),
    ".SH COMMANDS",
  ];
  for (const sub of root.commands ?? []) section(sub, [sub.name], out);
  out.push(".SH OPTIONS");
  for (const o of [HELP_OPTION, VERSION_OPTION]) out.push(".TP", optionLine(o), roff(o.help));
  const env = environment(root, []);
  if (env.size) {
    out.push(".SH ENVIRONMENT");
    for (const [k, v] of [...env].sort(([a], [b]) => a.localeCompare(b))) {
      out.push(".TP", `.B ${roff(k)}`, roff(`stands in for ${v}`));
    }
  }
  if (page.files.length) {
    out.push(".SH FILES");
    for (const [f, what] of page.files) out.push(".TP", `.I ${roff(f)}`, roff(what));
  }
  out.push(".SH EXIT STATUS");
  for (const [code, what] of page.exits) out.push(".TP", `.B ${code}`, roff(what));
  if ((root.examples ?? []).length) {
    out.push(".SH EXAMPLES", ".nf");
    for (const e of root.examples!) out.push(roff(`# ${e.says}`), roff(e.cmd), "");
    out.push(".fi");
  }
  out.push(".SH SEE ALSO", roff(`${commandName(["COMMAND"])} --help; the README of orch.`));
  return `${out.join("\n")}\n`;
}
