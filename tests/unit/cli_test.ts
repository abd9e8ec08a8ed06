import { assert, assertEquals, assertMatch, assertThrows } from "../_helpers/assert.ts";
import { OrchError } from "../../lib/errors.ts";
import { helpText } from "../../lib/cli/help.ts";
import { closest, parseCommand, type Parsed } from "../../lib/cli/parse.ts";
import { command, type CommandSpec, type Input } from "../../lib/cli/spec.ts";

/** A command with every kind of option and argument the parser knows. */
const copy = command({
  name: "copy",
  summary: "copy things somewhere",
  description: "Copies each thing; exits 3 when one could not be copied.",
  args: [
    { name: "to", help: "where to", required: true },
    { name: "things", help: "what", variadic: true },
  ],
  options: [
    { long: "wait", short: "w", help: "wait for it" },
    { long: "force", short: "f", help: "replace what is there" },
    { long: "limit", short: "n", value: "n", help: "how many", default: "20" },
    { long: "label", short: "l", value: "label", help: "a label", repeat: true },
    { long: "timeout", value: "duration", help: "give up after", shows: "wait for ever" },
    { long: "socket", value: "path", help: "the socket", env: "COPY_SOCKET" },
  ],
  examples: [
    { says: "Copy two things to there, and wait", cmd: "orch copy there a b --wait" },
    { says: "Copy with two labels", cmd: "orch copy there a -l x -l y" },
  ],
  run() {},
});

/** A command that takes one argument at most. */
const show = command({
  name: "show",
  summary: "show one thing",
  args: [{ name: "thing", help: "the thing", required: true }],
  options: [{ long: "json", help: "as JSON" }],
  run() {},
});

/** A group of commands. */
const group: CommandSpec = {
  name: "things",
  summary: "work with things",
  commands: [copy, show],
};

function run(spec: CommandSpec, argv: string[]): Input {
  const p = parseCommand(spec, argv, [spec.name]);
  assertEquals(p.kind, "run", `${argv.join(" ")} asks for help`);
  return (p as Extract<Parsed, { kind: "run" }>).input;
}

/** The usage error `argv` is refused with. */
function refused(spec: CommandSpec, argv: string[], path = [spec.name]): OrchError {
  try {
    parseCommand(spec, argv, path);
  } catch (e) {
    assert(e instanceof OrchError, `not an OrchError: ${e}`);
    assertEquals(e.code, "usage");
    return e;
  }
  throw new Error(`${argv.join(" ")} was accepted`);
}

Deno.test("a long option takes its value as the next word or after =", () => {
  assertEquals(run(copy, ["there", "--limit", "5"]).str("limit"), "5");
  assertEquals(run(copy, ["there", "--limit=5"]).str("limit"), "5");
  // After `=`, the value may be empty or hold another `=`.
  assertEquals(run(copy, ["there", "--label=a=b"]).list("label"), ["a=b"]);
  assertEquals(run(copy, ["there", "--limit="]).str("limit"), "");
});

Deno.test("a short option takes its value as the next word or glued to it", () => {
  assertEquals(run(copy, ["there", "-n", "5"]).str("limit"), "5");
  assertEquals(run(copy, ["there", "-n5"]).str("limit"), "5");
});

Deno.test("one-letter switches combine, the last one may take a value", () => {
  let input = run(copy, ["there", "-wf"]);
  assertEquals([input.flag("wait"), input.flag("force")], [true, true]);
  input = run(copy, ["there", "-wn7"]);
  assertEquals([input.flag("wait"), input.flag("force"), input.str("limit")], [true, false, "7"]);
  input = run(copy, ["there", "-fn", "8"]);
  assertEquals([input.flag("force"), input.str("limit")], [true, "8"]);
});

Deno.test("options may come anywhere among the arguments; -- ends them", () => {
  let input = run(copy, ["--wait", "there", "a", "-n", "3", "b"]);
  assertEquals(input.args, ["there", "a", "b"]);
  assertEquals([input.flag("wait"), input.str("limit")], [true, "3"]);
  input = run(copy, ["there", "--", "--wait", "-n", "-"]);
  assertEquals(input.args, ["there", "--wait", "-n", "-"]);
  assertEquals(input.flag("wait"), false);
});

Deno.test("a word that is a negative number is a value, not an option", () => {
  assertEquals(run(copy, ["there", "--limit", "-1"]).str("limit"), "-1");
  assertEquals(run(copy, ["-5", "-6"]).args, ["-5", "-6"]);
});

Deno.test("a repeatable option keeps every value in order; another keeps the last one", () => {
  const input = run(copy, ["there", "-l", "x", "--label", "y", "-lz", "-n", "1", "--limit", "2"]);
  assertEquals(input.list("label"), ["x", "y", "z"]);
  assertEquals(input.str("limit"), "2");
});

Deno.test("an option not given reads as its default, or undefined; a switch as false", () => {
  const input = run(copy, ["there"]);
  assertEquals(input.str("limit"), "20");
  // `shows` is for --help only.
  assertEquals(input.str("timeout"), undefined);
  assertEquals(input.list("label"), []);
  assertEquals(input.flag("wait"), false);
  assertEquals(input.path, ["copy"]);
});

Deno.test("reading an option the wrong way is a programming error, not a usage error", () => {
  const input = run(copy, ["there"]);
  assertThrows(() => input.flag("limit"), /--limit takes a value/);
  assertThrows(() => input.str("wait"), /--wait is not a single-valued option/);
  assertThrows(() => input.str("label"), /--label is not a single-valued option/);
  assertThrows(() => input.list("limit"), /--limit is not a repeatable option/);
  const e = assertThrows(() => input.str("nothing"), /orch copy declares no option --nothing/);
  assert(!(e instanceof OrchError));
});

Deno.test("an unknown option is refused naming the command, with the option it is close to", () => {
  let e = refused(copy, ["there", "--limt", "5"]);
  assertEquals(e.message, "orch copy has no option --limt (did you mean --limit?)");
  assertEquals(e.hint, "run 'orch copy --help' for usage");
  e = refused(copy, ["there", "--frobnicate"]);
  assertEquals(e.message, "orch copy has no option --frobnicate");
  e = refused(copy, ["there", "--limt=5"]);
  assertMatch(e.message, /has no option --limt \(did you mean --limit\?\)$/);
  e = refused(copy, ["there", "-x"]);
  assertEquals(e.message, "orch copy has no option -x");
  e = refused(copy, ["there", "-wx"]);
  assertEquals(e.message, "orch copy has no option -x");
});

Deno.test("what a user typed is quoted and escaped in the message, and cut when long", () => {
  let e = refused(copy, ["there", "--a\x1b[2Jb"]);
  assertEquals(e.message, "orch copy has no option --a\\u001b[2Jb");
  e = refused(show, ["a", "b".repeat(500)]);
  assert(e.message.length < 200, e.message);
  assertMatch(e.message, /"b{80}…" is one too many$/);
});

Deno.test("an option that needs a value is refused without one; a switch is refused with one", () => {
  let e = refused(copy, ["there", "--limit"]);
  assertEquals(e.message, "--limit needs a value <n>");
  e = refused(copy, ["there", "-n"]);
  assertEquals(e.message, "-n (--limit) needs a value <n>");
  e = refused(copy, ["there", "--wait=yes"]);
  assertEquals(e.message, "--wait takes no value");
});

Deno.test("a missing argument is refused naming it; one too many is refused quoting it", () => {
  let e = refused(copy, ["--wait"]);
  assertEquals(e.message, "orch copy needs <to>: where to");
  e = refused(show, []);
  assertEquals(e.message, "orch show needs <thing>: the thing");
  e = refused(show, ["a", "b"]);
  assertEquals(e.message, 'orch show takes at most 1 argument; "b" is one too many');
  const none = command({ name: "none", summary: "takes nothing", run() {} });
  e = refused(none, ["x"]);
  assertEquals(e.message, 'orch none takes no arguments, but was given "x"');
  // A variadic argument takes any number.
  assertEquals(run(copy, ["there", ...Array(50).fill("x")]).args.length, 51);
});

Deno.test("--help and -h ask for help even beside a mistake in the arguments", () => {
  for (const argv of [["--help"], ["-h"], ["there", "--help"], ["--help", "a", "b"]]) {
    const p = parseCommand(show, argv, ["show"]);
    assertEquals(p.kind, "help", argv.join(" "));
  }
  // After --, --help is an argument.
  assertEquals(run(show, ["--", "--help"]).args, ["--help"]);
});

Deno.test("a group runs its command, asks for one when none is given, and suggests a near name", () => {
  const p = parseCommand(group, ["copy", "there", "-w"], ["things"]);
  assertEquals(p.kind, "run");
  assertEquals((p as Extract<Parsed, { kind: "run" }>).input.path, ["things", "copy"]);
  let e = refused(group, []);
  assertEquals(e.message, "orch things needs a command: copy, show");
  e = refused(group, ["cpy"]);
  assertEquals(e.message, 'orch things has no command "cpy" (did you mean copy?)');
  e = refused(group, ["zzzzzz"]);
  assertEquals(e.message, 'orch things has no command "zzzzzz"; the commands are copy, show');
  // An option before the command is not a command.
  e = refused(group, ["--wait", "copy"]);
  assertMatch(e.message, /has no command "--wait"/);
  // A mistake in the command's own options names the command's whole path.
  e = refused(group, ["copy", "there", "--bogus"], ["things"]);
  assertEquals(e.message, "orch things copy has no option --bogus");
  assertEquals(e.hint, "run 'orch things copy --help' for usage");
});

Deno.test("a group answers help for itself and for each of its commands", () => {
  for (const argv of [["--help"], ["-h"], ["help"]]) {
    const p = parseCommand(group, argv, ["things"]);
    assertEquals([p.kind, p.spec.name], ["help", "things"], argv.join(" "));
  }
  const p = parseCommand(group, ["help", "show"], ["things"]);
  assertEquals([p.kind, p.spec.name, (p as { path: string[] }).path], [
    "help",
    "show",
    ["things", "show"],
  ]);
  assertMatch(refused(group, ["help", "nope"]).message, /has no command "nope"/);
});

Deno.test("a typo is suggested only when it is close to one name", () => {
  assertEquals(closest("limt", ["limit", "label"]), "limit");
  assertEquals(closest("stauts", ["status", "submit"]), "status");
  assertEquals(closest("xyz", ["limit", "label"]), null);
});

Deno.test("--help shows the usage line, the description, every option with its default, and the examples", () => {
  const text = helpText(copy, ["copy"]);
  const lines = text.split("\n");
  assertEquals(lines[0], "Usage: orch copy [options] <to> [things...]");
  assert(text.includes("\ncopy things somewhere\n"), text);
  assert(text.includes("Copies each thing; exits 3 when one could not be copied."), text);
  assertMatch(text, /\n {2}<to> +where to\n/);
  assertMatch(text, /\n {2}-n, --limit <n> +how many \(default: 20\)\n/);
  assertMatch(text, /\n {6}--timeout <duration> +give up after \(default: wait for ever\)\n/);
  assertMatch(text, /\n {2}-l, --label <label> +a label \(repeatable\)\n/);
  assertMatch(text, /\n {6}--socket <path> +the socket \(env COPY_SOCKET\)\n/);
  assertMatch(text, /\n {2}-w, --wait +wait for it\n/);
  assertMatch(text, /\n {2}-h, --help +show this help\n/);
  assertMatch(
    text,
    /\nExamples:\n {2}# Copy two things to there, and wait\n {2}orch copy there a b --wait\n {2}# Copy with two labels\n {2}orch copy there a -l x -l y$/,
  );
  // Only the root has --version.
  assert(!text.includes("--version"), text);
});

Deno.test("--help of a group lists its commands and how to get their help", () => {
  const text = helpText(group, ["things"]);
  assertEquals(text.split("\n")[0], "Usage: orch things <command>");
  assertMatch(text, /\nCommands:\n {2}copy +copy things somewhere\n {2}show +show one thing\n/);
  assertMatch(text, /\nRun 'orch things <command> --help' for a command's options\.$/);
});

Deno.test("--help wraps to the terminal, at least 40 and at most 100 columns", () => {
  const long = command({
    name: "long",
    summary: "a summary ".repeat(30),
    options: [{ long: "opt", value: "v", help: "words ".repeat(60), default: "d" }],
    run() {},
  });
  for (const [columns, max] of [[60, 60], [20, 40], [300, 100]]) {
    for (const line of helpText(long, ["long"], columns).split("\n")) {
      assert(line.length <= max, `${columns} columns: ${line.length}: ${line}`);
    }
  }
  assertMatch(helpText(long, ["long"], 60), /\(default: d\)/);
});

Deno.test("an example's words wrap as comment lines, so that the example pastes whole", () => {
  const spec = command({
    name: "ex",
    summary: "an example",
    examples: [{ says: "says a lot ".repeat(12).trim(), cmd: "orch ex" }],
    run() {},
  });
  const lines = helpText(spec, ["ex"], 60).split("\n");
  const at = lines.indexOf("Examples:");
  const comments = lines.slice(at + 1, -1);
  assert(comments.length >= 2, lines.join("\n"));
  for (const l of comments) assertMatch(l, /^ {2}# says a lot/);
  assertEquals(lines.at(-1), "  orch ex");
});
