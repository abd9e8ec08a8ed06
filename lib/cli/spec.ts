/**
 * Commands declared once — name, arguments, options with their defaults,
 * examples — and the same declaration drives the parser, `--help`, the
 * man page and the shell completions. Plain data and no `node:` imports,
 * so that a command line is parsed in well under a millisecond of start-up.
 *
 * @module
 */

/** How a shell completes a value. */
export type Completion = "file" | "dir" | "host" | readonly string[];

/** One option of a command. */
export interface OptionSpec {
  /** The long name without its dashes: `wait-timeout`. */
  readonly long: string;
  /** A one-letter alias without its dash: `w`. */
  readonly short?: string;
  /** What the option takes, e.g. `duration`; none for a switch. */
  readonly value?: string;
  /** One sentence for `--help` and the man page. */
  readonly help: string;
  /** The value `str()` gives when the option is not given; shown in `--help`. */
  readonly default?: string;
  /** What happens when the option is not given, where that is not one value: shown in `--help`. */
  readonly shows?: string;
  /** The environment variable the command reads when the option is not given (documented). */
  readonly env?: string;
  /** May be given more than once; the values are kept in order. */
  readonly repeat?: boolean;
  /** How a shell completes the value. */
  readonly complete?: Completion;
}

/** One positional argument. */
export interface ArgSpec {
  readonly name: string;
  readonly help: string;
  /** Must be given. */
  readonly required?: boolean;
  /** Takes every remaining argument (the last one only). */
  readonly variadic?: boolean;
  readonly complete?: Completion;
}

/** One example in `--help` and the man page. */
export interface Example {
  /** The command line, starting with `orch`. */
  readonly cmd: string;
  /** What it does, one sentence. */
  readonly says: string;
}

/** What a command's `run` gets: its arguments and options, as given. */
export interface Input<N extends string = string> {
  /** The positional arguments, in order; a variadic one's values are last. */
  readonly args: readonly string[];
  /** A switch: true when given. */
  flag(name: N): boolean;
  /**
   * An option's value: the last one given, else its declared `default`, else
   * undefined. The environment is not read here: a command that documents a
   * variable (`env`) reads it itself, in its own order of sources.
   */
  str(name: N): string | undefined;
  /** A repeatable option's values, in order. */
  list(name: N): string[];
  /** The command's path: `["schedule", "add"]`. */
  readonly path: readonly string[];
}

/** A command: a leaf runs, a group holds subcommands. */
export interface CommandSpec<N extends string = string> {
  readonly name: string;
  /** One line for lists of commands. */
  readonly summary: string;
  /** Paragraphs for `--help` and the man page, after the summary. */
  readonly description?: string;
  readonly args?: readonly ArgSpec[];
  readonly options?: readonly OptionSpec[];
  readonly examples?: readonly Example[];
  /** Subcommands, for a group (`orch ca init`). */
  readonly commands?: readonly CommandSpec[];
  /** What the command does; absent for a group. */
  readonly run?: (input: Input<N>) => Promise<void> | void;
}

/**
 * Declares a command; the option names `run` may ask for are the ones the
 * command declares (a typo is a type error).
 */
export function command<const O extends readonly OptionSpec[]>(
  spec: Omit<CommandSpec<O[number]["long"]>, "options"> & { options?: O },
): CommandSpec {
  return spec as CommandSpec;
}

/** Declares options shared by several commands, keeping their names for {@linkcode command}. */
export function options<const O extends readonly OptionSpec[]>(opts: O): O {
  return opts;
}

/** `--help`, which every command has. */
export const HELP_OPTION: OptionSpec = { long: "help", short: "h", help: "show this help" };

/** `--version`, which the root command has. */
export const VERSION_OPTION: OptionSpec = {
  long: "version",
  short: "V",
  help: "print the version and exit",
};
