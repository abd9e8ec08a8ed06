/**
 * `--help` text from a {@linkcode CommandSpec}: usage, description,
 * arguments, options with their defaults and environment variables, and
 * examples, wrapped to the terminal's width.
 *
 * @module
 */

import { commandName } from "./parse.ts";
import {
  type ArgSpec,
  type CommandSpec,
  HELP_OPTION,
  type OptionSpec,
  VERSION_OPTION,
} from "./spec.ts";

/** Widest text column `--help` wraps to, however wide the terminal. */
const MAX_WIDTH = 100;

/** How an argument is written in a usage line: `<score>`, `[params...]`. */
export function argLabel(a: ArgSpec): string {
  const name = `${a.name}${a.variadic ? "..." : ""}`;
  return a.required ? `<${name}>` : `[${name}]`;
}

/** How an option is written in a list: `-t, --target <target>`. */
export function optionLabel(o: OptionSpec): string {
  return `${o.short ? `-${o.short}, ` : "    "}--${o.long}${o.value ? ` <${o.value}>` : ""}`;
}

/** An option's help with what it defaults to, its variable, and whether it repeats. */
export function optionHelp(o: OptionSpec): string {
  const notes: string[] = [];
  if (o.repeat) notes.push("repeatable");
  if (o.default !== undefined) notes.push(`default: ${o.default}`);
  else if (o.shows !== undefined) notes.push(`default: ${o.shows}`);
  if (o.env) notes.push(`env ${o.env}`);
  return notes.length ? `${o.help} (${notes.join("; ")})` : o.help;
}

/** The usage line of a command. */
export function usageLine(spec: CommandSpec, path: readonly string[]): string {
  const parts = [commandName(path)];
  if (spec.commands) parts.push("<command>");
  if ((spec.options ?? []).length) parts.push("[options]");
  for (const a of spec.args ?? []) parts.push(argLabel(a));
  return parts.join(" ");
}

/** Words of `text` in lines of at most `width` columns, each after `indent` spaces. */
export function wrap(text: string, width: number, indent: number): string[] {
  const lines: string[] = [];
  for (const para of text.split("\n")) {
    let line = "";
    for (const word of para.split(/ +/)) {
      if (line && indent + line.length + 1 + word.length > width) {
        lines.push(" ".repeat(indent) + line);
        line = word;
      } else {
        line = line ? `${line} ${word}` : word;
      }
    }
    lines.push(" ".repeat(indent) + line);
  }
  return lines;
}

/** A two-column list: labels on the left, text wrapped on the right. */
function table(rows: [string, string][], width: number): string[] {
  const labelWidth = Math.min(Math.max(...rows.map(([l]) => l.length)), 34);
  const lines: string[] = [];
  for (const [label, text] of rows) {
    const wrapped = wrap(text, width, labelWidth + 4);
    if (label.length <= labelWidth) {
      wrapped[0] = `  ${label.padEnd(labelWidth)}  ${wrapped[0].trimStart()}`;
      lines.push(...wrapped);
    } else {
      lines.push(`  ${label}`, ...wrapped);
    }
  }
  return lines;
}

/** The whole `--help` text of command `spec` at `path` (the root's path is empty). */
export function helpText(spec: CommandSpec, path: readonly string[], columns = 80): string {
  const width = Math.max(40, Math.min(columns, MAX_WIDTH));
  const out: string[] = [`Usage: ${usageLine(spec, path)}`, ""];
  out.push(...wrap(spec.summary, width, 0));
  if (spec.description) out.push("", ...wrap(spec.description, width, 0));
  if (spec.commands) {
    out.push("", "Commands:");
    out.push(...table(spec.commands.map((c) => [c.name, c.summary]), width));
  }
  if ((spec.args ?? []).length) {
    out.push("", "Arguments:");
    out.push(...table(spec.args!.map((a) => [argLabel(a), a.help]), width));
  }
  const opts = [...(spec.options ?? []), HELP_OPTION];
  if (path.length === 0) opts.push(VERSION_OPTION);
  out.push("", "Options:");
  out.push(...table(opts.map((o) => [optionLabel(o), optionHelp(o)]), width));
  if ((spec.examples ?? []).length) {
    out.push("", "Examples:");
    for (const e of spec.examples!) {
      // Each line of what it says is a comment, so that the example can be pasted whole.
      out.push(...wrap(e.says, width, 4).map((l) => `  # ${l.slice(4)}`), `  ${e.cmd}`);
    }
  }
  if (spec.commands) {
    out.push("", `Run '${commandName(path)} <command> --help' for a command's options.`);
  }
  return out.join("\n");
}
