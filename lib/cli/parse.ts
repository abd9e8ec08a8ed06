/**
 * The command line, parsed against a {@linkcode CommandSpec}: GNU-style
 * options (`--name value`, `--name=value`, `-n value`, `-nvalue`, `-ab` for
 * switches, `--` to end them) anywhere among the arguments, the last of a
 * repeated option winning unless the option is repeatable. Every mistake is a
 * usage error that names the option or argument and the command.
 *
 * @module
 */

import { OrchError } from "../errors.ts";
import { type CommandSpec, HELP_OPTION, type Input, type OptionSpec } from "./spec.ts";

/** What a command line asks for. */
export type Parsed =
  | { kind: "run"; spec: CommandSpec; input: Input }
  | { kind: "help"; spec: CommandSpec; path: string[] };

/** `orch submit`: how a command is named in messages. */
export function commandName(path: readonly string[]): string {
  return ["orch", ...path].join(" ");
}

/** A usage error about command `path`, with the hint to its help. */
export function usageError(path: readonly string[], message: string): OrchError {
  return new OrchError("usage", message, {
    hint: `run '${commandName(path)} --help' for usage`,
  });
}

/** The edit distance of `a` and `b` (insertions, deletions, substitutions). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The candidate closest to `word` when it is close enough to be a typo, else null. */
export function closest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}

/** Shows a word the user typed in a message: quoted, escaped, cut. */
function quote(word: string): string {
  return JSON.stringify(word.length > 80 ? `${word.slice(0, 80)}…` : word);
}

/** Parses `argv` (the words after the command's own path) for command `spec`. */
export function parseCommand(spec: CommandSpec, argv: readonly string[], path: string[]): Parsed {
  if (spec.commands) return parseGroup(spec, argv, path);
  const opts = [...(spec.options ?? []), HELP_OPTION];
  const byLong = new Map(opts.map((o) => [o.long, o]));
  const byShort = new Map(opts.filter((o) => o.short).map((o) => [o.short!, o]));
  const values = new Map<string, string[]>();
  const switches = new Set<string>();
  const args: string[] = [];
  const set = (o: OptionSpec, value: string | null) => {
    if (value === null) {
      switches.add(o.long);
      return;
    }
    const prev = values.get(o.long) ?? [];
    values.set(o.long, o.repeat ? [...prev, value] : [value]);
  };
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (word === "--") {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (word.startsWith("--") && word.length > 2) {
      const eq = word.indexOf("=");
      const name = word.slice(2, eq < 0 ? undefined : eq);
      const o = byLong.get(name);
      if (!o) {
        const near = closest(name, opts.map((x) => x.long));
        throw usageError(
          path,
          `${commandName(path)} has no option --${quote(name).slice(1, -1)}${
            near ? ` (did you mean --${near}?)` : ""
          }`,
        );
      }
      if (!o.value) {
        if (eq >= 0) throw usageError(path, `--${o.long} takes no value`);
        set(o, null);
      } else if (eq >= 0) {
        set(o, word.slice(eq + 1));
      } else {
        if (i + 1 >= argv.length) throw usageError(path, `--${o.long} needs a value <${o.value}>`);
        set(o, argv[++i]);
      }
      continue;
    }
    if (word.startsWith("-") && word.length > 1 && !/^-\d/.test(word)) {
      // One or more one-letter switches, the last of which may take a value.
      for (let j = 1; j < word.length; j++) {
        const o = byShort.get(word[j]);
        if (!o) {
          throw usageError(
            path,
            `${commandName(path)} has no option -${quote(word[j]).slice(1, -1)}`,
          );
        }
        if (!o.value) {
          set(o, null);
          continue;
        }
        const rest = word.slice(j + 1);
        if (rest !== "") {
          set(o, rest);
        } else {
          if (i + 1 >= argv.length) {
            throw usageError(path, `-${o.short} (--${o.long}) needs a value <${o.value}>`);
          }
          set(o, argv[++i]);
        }
        break;
      }
      continue;
    }
    args.push(word);
  }
  if (switches.has("help")) return { kind: "help", spec, path };
  checkArgs(spec, args, path);
  const input: Input = {
    args,
    path,
    flag(name) {
      const o = known(name);
      if (o.value) throw new Error(`--${name} takes a value; read it with str()`);
      return switches.has(name);
    },
    str(name) {
      const o = known(name);
      if (!o.value || o.repeat) throw new Error(`--${name} is not a single-valued option`);
      return values.get(name)?.[0] ?? o.default;
    },
    list(name) {
      const o = known(name);
      if (!o.repeat) throw new Error(`--${name} is not a repeatable option`);
      return [...(values.get(name) ?? [])];
    },
  };
  function known(name: string): OptionSpec {
    const o = byLong.get(name);
    if (!o) throw new Error(`${commandName(path)} declares no option --${name}`);
    return o;
  }
  return { kind: "run", spec, input };
}

function parseGroup(spec: CommandSpec, argv: readonly string[], path: string[]): Parsed {
  const [word, ...rest] = argv;
  if (word === undefined || word === "-h" || word === "--help") {
    if (word === undefined) {
      throw usageError(
        path,
        `${commandName(path)} needs a command: ${spec.commands!.map((c) => c.name).join(", ")}`,
      );
    }
    return { kind: "help", spec, path };
  }
  if (word === "help") {
    const sub = rest[0] === undefined ? undefined : spec.commands!.find((c) => c.name === rest[0]);
    if (rest[0] !== undefined && !sub) throw unknownCommand(spec, rest[0], path);
    return sub
      ? { kind: "help", spec: sub, path: [...path, sub.name] }
      : { kind: "help", spec, path };
  }
  const sub = spec.commands!.find((c) => c.name === word);
  if (!sub) throw unknownCommand(spec, word, path);
  return parseCommand(sub, rest, [...path, sub.name]);
}

/** The error for a command word that names no command of `spec`. */
export function unknownCommand(spec: CommandSpec, word: string, path: string[]): OrchError {
  const names = (spec.commands ?? []).map((c) => c.name);
  const near = closest(word, names);
  return usageError(
    path,
    `${commandName(path)} has no command ${quote(word)}${
      near ? ` (did you mean ${near}?)` : `; the commands are ${names.join(", ")}`
    }`,
  );
}

function checkArgs(spec: CommandSpec, args: string[], path: string[]): void {
  const declared = spec.args ?? [];
  const required = declared.filter((a) => a.required);
  if (args.length < required.length) {
    const missing = required[args.length];
    throw usageError(path, `${commandName(path)} needs <${missing.name}>: ${missing.help}`);
  }
  const variadic = declared.at(-1)?.variadic ?? false;
  if (!variadic && args.length > declared.length) {
    const extra = args[declared.length];
    throw usageError(
      path,
      declared.length === 0
        ? `${commandName(path)} takes no arguments, but was given ${quote(extra)}`
        : `${commandName(path)} takes at most ${declared.length} argument${
          declared.length === 1 ? "" : "s"
        }; ${quote(extra)} is one too many`,
    );
  }
}
