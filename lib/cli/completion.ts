/**
 * Shell completion scripts for bash, zsh and fish, from the same
 * {@linkcode CommandSpec} declarations as `--help`: commands and
 * subcommands, each command's options, and the values an option takes
 * (files, directories, host names, or a fixed set of words).
 *
 * @module
 */

import { type CommandSpec, type Completion, HELP_OPTION, type OptionSpec } from "./spec.ts";

/** The shells a completion script can be written for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;

/** One of {@linkcode SHELLS}. */
export type Shell = (typeof SHELLS)[number];

/** Every command of the tree with its path (`"schedule add"`), groups included. */
function walk(
  spec: CommandSpec,
  path: string[] = [],
): { path: string[]; spec: CommandSpec }[] {
  const out = [{ path, spec }];
  for (const sub of spec.commands ?? []) out.push(...walk(sub, [...path, sub.name]));
  return out;
}

function optionsOf(spec: CommandSpec): OptionSpec[] {
  return spec.commands ? [HELP_OPTION] : [...(spec.options ?? []), HELP_OPTION];
}

/** How the bash script names a way to complete a value. */
function kindOf(c: Completion | undefined): string {
  return c === undefined ? "none" : typeof c === "string" ? c : `words:${c.join(" ")}`;
}

/** A string in single quotes for sh-like shells. */
function sq(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The completion script for `shell`. */
export function completionScript(root: CommandSpec, shell: Shell): string {
  switch (shell) {
    case "bash":
      return bash(root);
    case "zsh":
      return zsh(root);
    case "fish":
      return fish(root);
  }
}

function bash(root: CommandSpec): string {
  const nodes = walk(root);
  const subs = nodes.filter((n) => n.spec.commands).map((n) =>
    `    ${sq(n.path.join(" "))}) echo ${sq(n.spec.commands!.map((c) => c.name).join(" "))} ;;`
  );
  const opts = nodes.map((n) => {
    const names = optionsOf(n.spec).flatMap((
      o,
    ) => [`--${o.long}`, ...(o.short ? [`-${o.short}`] : [])]);
    return `    ${sq(n.path.join(" "))}) echo ${sq(names.join(" "))} ;;`;
  });
  const args = nodes.filter((n) => !n.spec.commands).flatMap((n) => {
    const kind = kindOf((n.spec.args ?? []).find((a) => a.complete !== undefined)?.complete);
    return kind === "none" ? [] : [`    ${sq(n.path.join(" "))}) echo ${sq(kind)} ;;`];
  });
  const values: string[] = [];
  for (const n of nodes) {
    for (const o of optionsOf(n.spec)) {
      if (!o.value) continue;
      const kind = kindOf(o.complete);
      const keys = [`--${o.long}`, ...(o.short ? [`-${o.short}`] : [])]
        .map((k) => sq(`${n.path.join(" ")} ${k}`));
      values.push(`    ${keys.join("|")}) echo ${sq(kind)} ;;`);
    }
  }
  return `# bash completion for orch; made by \`orch completion bash\`.
# Install: orch completion bash > /etc/bash_completion.d/orch (or source it from ~/.bashrc).

_orch_subcommands() {
  case "$1" in
${subs.join("\n")}
  esac
}

_orch_options() {
  case "$1" in
${opts.join("\n")}
  esac
}

_orch_arguments() {
  case "$1" in
${args.join("\n")}
    *) echo file ;;
  esac
}

_orch_value() {
  case "$1" in
${values.join("\n")}
    *) return 1 ;;
  esac
}

_orch() {
  local cur=\${COMP_WORDS[COMP_CWORD]} path="" i word kind subs
  COMPREPLY=()
  # The command path: the words that name a command or subcommand.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=\${COMP_WORDS[i]}
    subs=$(_orch_subcommands "$path")
    case " $subs " in
      *" $word "*) path=\${path:+$path }$word ;;
    esac
  done
  if ((COMP_CWORD > 1)) && kind=$(_orch_value "$path \${COMP_WORDS[COMP_CWORD - 1]}"); then
    _orch_complete "$kind" "$cur"
    return 0
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_orch_options "$path")" -- "$cur"))
    return 0
  fi
  subs=$(_orch_subcommands "$path")
  if [[ -n $subs ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  else
    _orch_complete "$(_orch_arguments "$path")" "$cur"
  fi
}

_orch_complete() {
  case "$1" in
    file) COMPREPLY=($(compgen -f -- "$2")) ;;
    dir) COMPREPLY=($(compgen -d -- "$2")) ;;
    host) COMPREPLY=($(compgen -A hostname -- "$2")) ;;
    words:*) COMPREPLY=($(compgen -W "\${1#words:}" -- "$2")) ;;
  esac
}

complete -o filenames -F _orch orch
`;
}

/** Text for a zsh `_arguments` description: brackets and colons escaped. */
function zdesc(text: string): string {
  return text.replace(/[\[\]:\\]/g, (c) => `\\${c}`).replaceAll("'", `'\\''`);
}

function zshAction(o: OptionSpec): string {
  if (!o.value) return "";
  const what = zdesc(o.value);
  if (o.complete === "file") return `:${what}:_files`;
  if (o.complete === "dir") return `:${what}:_files -/`;
  if (o.complete === "host") return `:${what}:_hosts`;
  if (Array.isArray(o.complete)) return `:${what}:(${o.complete.join(" ")})`;
  return `:${what}: `;
}

function zshFunction(name: string): string {
  return `_orch${name ? `_${name.replace(/[^A-Za-z0-9]/g, "_")}` : ""}`;
}

function zsh(root: CommandSpec): string {
  const fns: string[] = [];
  for (const n of walk(root)) {
    const fn = zshFunction(n.path.join(" "));
    if (n.spec.commands) {
      const cmds = n.spec.commands.map((c) => `'${zdesc(c.name)}:${zdesc(c.summary)}'`);
      const cases = n.spec.commands.map((c) =>
        `      ${c.name}) ${zshFunction([...n.path, c.name].join(" "))} ;;`
      );
      fns.push(`${fn}() {
  local curcontext=$curcontext state line
  _arguments -C '(- *)'{-h,--help}'[show help]' '1: :->command' '*:: :->args'
  case $state in
    command)
      local -a commands=(
        ${cmds.join("\n        ")}
      )
      _describe -t commands 'orch command' commands ;;
    args)
      case $line[1] in
${cases.join("\n")}
      esac ;;
  esac
}`);
      continue;
    }
    const specs = optionsOf(n.spec).map((o) => {
      const names = o.short ? `{-${o.short},--${o.long}}` : `--${o.long}`;
      const excl = o.repeat ? "*" : o.short ? `'(-${o.short} --${o.long})'` : "";
      return `    ${excl}${names}'[${zdesc(o.help)}]${zshAction(o)}'`;
    });
    const c = (n.spec.args ?? []).find((a) => a.complete !== undefined)?.complete;
    const action = c === "file"
      ? "_files"
      : c === "dir"
      ? "_files -/"
      : c === "host"
      ? "_hosts"
      : Array.isArray(c)
      ? `(${c.join(" ")})`
      : " ";
    if ((n.spec.args ?? []).length) specs.push(`    '*:argument:${action}'`);
    fns.push(`${fn}() {\n  _arguments -s \\\n${specs.join(" \\\n")}\n}`);
  }
  return `#compdef orch
# zsh completion for orch; made by \`orch completion zsh\`.
# Install: orch completion zsh > "\${fpath[1]}/_orch", then start a new shell.

${fns.join("\n\n")}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _orch "$@"
else
  compdef _orch orch
fi
`;
}

function fish(root: CommandSpec): string {
  const lines = [
    "# fish completion for orch; made by `orch completion fish`.",
    "# Install: orch completion fish > ~/.config/fish/completions/orch.fish",
    "",
    "complete -c orch -f",
  ];
  const nodes = walk(root);
  for (const n of nodes) {
    // Inside the command path, and (for a group) before any of its subcommands.
    const inPath = n.path.map((p) => `__fish_seen_subcommand_from ${p}`);
    const condition = (extra: string[]) => {
      const all = [...inPath, ...extra];
      return all.length ? all.join("; and ") : "__fish_use_subcommand";
    };
    if (n.spec.commands) {
      const names = n.spec.commands.map((c) => c.name).join(" ");
      const cond = n.path.length === 0
        ? "__fish_use_subcommand"
        : condition([`not __fish_seen_subcommand_from ${names}`]);
      for (const c of n.spec.commands) {
        lines.push(`complete -c orch -n ${sq(cond)} -a ${sq(c.name)} -d ${sq(c.summary)}`);
      }
      continue;
    }
    const cond = condition([]);
    for (const o of optionsOf(n.spec)) {
      const parts = [`complete -c orch -n ${sq(cond)} -l ${sq(o.long)}`];
      if (o.short) parts.push(`-s ${sq(o.short)}`);
      if (o.value) {
        if (o.complete === "file" || o.complete === "dir") parts.push("-r -F");
        else if (o.complete === "host") parts.push("-x -a '(__fish_print_hostnames)'");
        else if (Array.isArray(o.complete)) parts.push(`-x -a ${sq(o.complete.join(" "))}`);
        else parts.push("-x");
      }
      parts.push(`-d ${sq(o.help)}`);
      lines.push(parts.join(" "));
    }
    const arg = (n.spec.args ?? []).find((a) => a.complete !== undefined)?.complete;
    if (arg === "file" || arg === "dir") lines.push(`complete -c orch -n ${sq(cond)} -F`);
    else if (arg === "host") {
      lines.push(`complete -c orch -n ${sq(cond)} -a '(__fish_print_hostnames)'`);
    } else if (Array.isArray(arg)) {
      lines.push(`complete -c orch -n ${sq(cond)} -a ${sq(arg.join(" "))}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
