/**
 * `orch completion bash|zsh|fish` and `orch man`, run for real: the scripts
 * are loaded into the real shells and asked to complete command lines, and
 * the man page is checked by groff with every warning on.
 */

import { assert, assertEquals, assertStringIncludes } from "../_helpers/assert.ts";
import { orch } from "../_helpers/proc.ts";

async function has(tool: string): Promise<boolean> {
  const r = await new Deno.Command("sh", { args: ["-c", `command -v ${tool}`], stdout: "null" })
    .output();
  return r.success;
}

async function run(cmd: string, args: string[], stdin?: string): Promise<string> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

async function script(shell: string): Promise<string> {
  const r = await orch(["completion", shell]);
  assertEquals(r.code, 0, r.stderr);
  return r.stdout;
}

Deno.test("bash completes commands, subcommands, options and their values from orch completion bash", async () => {
  const file = await Deno.makeTempFile({ suffix: ".bash" });
  try {
    await Deno.writeTextFile(file, await script("bash"));
    const probe = `source ${file}
t() { COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _orch; echo "\${COMPREPLY[*]}"; }
t orch su
t orch submit --wait-t
t orch status 7 --state ti
t orch ca ""
t orch schedule add --ta
t orch completion ""
`;
    const lines = (await run("bash", ["-c", probe])).split("\n");
    assertEquals(lines[0], "submit");
    assertEquals(lines[1], "--wait-timeout");
    assertEquals(lines[2], "timed_out");
    for (const sub of ["init", "issue", "list"]) assertStringIncludes(` ${lines[3]} `, ` ${sub} `);
    assertEquals(lines[4], "--target");
    assertEquals(lines[5], "bash zsh fish");
  } finally {
    await Deno.remove(file);
  }
});

Deno.test({
  name: "fish completes commands and options from orch completion fish",
  ignore: !(await has("fish")),
  async fn() {
    const file = await Deno.makeTempFile({ suffix: ".fish" });
    try {
      await Deno.writeTextFile(file, await script("fish"));
      const out = await run("fish", [
        "--no-config",
        "-c",
        `source ${file}; complete -C 'orch sta'; echo ---; complete -C 'orch submit --con'; echo ---; complete -C 'orch ca is'`,
      ]);
      const [cmds, opts, subs] = out.split("---\n");
      assertStringIncludes(cmds, "status\t");
      assertStringIncludes(opts, "--connect-timeout\t");
      assertStringIncludes(opts, "--conductor\t");
      assertStringIncludes(subs, "issue\t");
    } finally {
      await Deno.remove(file);
    }
  },
});

Deno.test({
  name: "zsh reads orch completion zsh without a syntax error, with a function for each command",
  ignore: !(await has("zsh")),
  async fn() {
    const text = await script("zsh");
    assert(text.startsWith("#compdef orch\n"));
    for (const fn of ["_orch()", "_orch_submit()", "_orch_ca_issue()", "_orch_schedule_add()"]) {
      assertStringIncludes(text, fn);
    }
    await run("zsh", ["-n"], text);
  },
});

Deno.test("orch completion refuses a shell it does not know, naming the ones it does", async () => {
  const r = await orch(["completion", "tcsh"]);
  assertEquals(r.code, 2);
  assertEquals(r.stdout, "");
  assertStringIncludes(r.stderr, 'orch: orch completion: "tcsh" is not a shell orch completes');
  assertStringIncludes(r.stderr, "bash, zsh, fish");
});

Deno.test({
  name: "orch man is a man page groff reads without a warning, with every command and its examples",
  ignore: !(await has("groff")),
  async fn() {
    const r = await orch(["man"], { env: { SOURCE_DATE_EPOCH: "1795305600" } });
    assertEquals(r.code, 0, r.stderr);
    assert(r.stdout.startsWith('.TH ORCH 1 "2026-11-22"'), r.stdout.slice(0, 80));
    for (const section of ["NAME", "SYNOPSIS", "COMMANDS", "ENVIRONMENT", "FILES", "EXIT STATUS"]) {
      assertStringIncludes(r.stdout, `.SH ${section}\n`);
    }
    const text = await run(
      "sh",
      ["-c", "groff -ww -man -Tutf8 2>&1 >/dev/null; echo ok"],
      r.stdout,
    );
    assertEquals(text, "ok\n", "groff warned");
    const page = await run("groff", ["-man", "-Tascii", "-P", "-cbou"], r.stdout);
    for (
      const line of [
        "orch submit [options] <score> [params...]",
        "orch schedule add",
        "orch ca issue",
        "ORCH_CONDUCTOR",
        "client.yaml",
        "orch submit hello --all --target web1,web2 --wait",
      ]
    ) assertStringIncludes(page.replace(/\s+/g, " "), line.replace(/\s+/g, " "));
  },
});
