import { assertEquals } from "../_helpers/assert.ts";
import { createLogger, type LoggerOptions, silentLogger } from "../../lib/log.ts";

const NOW = new Date("2026-01-02T03:04:05.678Z");

function capture(opts: Partial<LoggerOptions> = {}) {
  const lines: string[] = [];
  const log = createLogger({
    level: "debug",
    format: "text",
    write: (l) => lines.push(l),
    now: () => NOW,
    ...opts,
  });
  return { log, lines };
}

Deno.test("a text line is time, padded level, message and logfmt fields", () => {
  const { log, lines } = capture();
  log.info("task started", { task: 7, player: "p1", ok: true, none: null });
  log.warn("x");
  assertEquals(lines, [
    "2026-01-02T03:04:05.678Z INFO  task started task=7 player=p1 ok=true none=null",
    "2026-01-02T03:04:05.678Z WARN  x",
  ]);
});

Deno.test("field values with spaces, quotes, '=', control characters or nothing are quoted", () => {
  const { log, lines } = capture();
  log.error("m", {
    a: "two words",
    b: 'say "hi"',
    c: "k=v",
    d: "tab\there",
    e: "",
    f: "back\\slash",
  });
  assertEquals(lines, [
    '2026-01-02T03:04:05.678Z ERROR m a="two words" b="say \\"hi\\"" c="k=v" d="tab\\there" e="" f="back\\\\slash"',
  ]);
});

Deno.test("undefined fields are left out, in text and in JSON", () => {
  const text = capture();
  text.log.info("m", { a: undefined, b: 1 });
  assertEquals(text.lines, ["2026-01-02T03:04:05.678Z INFO  m b=1"]);
  const json = capture({ format: "json" });
  json.log.info("m", { a: undefined, b: 1 });
  assertEquals(json.lines.map((l) => JSON.parse(l)), [
    { ts: "2026-01-02T03:04:05.678Z", level: "info", msg: "m", b: 1 },
  ]);
});

Deno.test("lines below the level are dropped", () => {
  const { log, lines } = capture({ level: "warn" });
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  assertEquals(lines.map((l) => l.split(" ").slice(1).join(" ")), ["WARN  w", "ERROR e"]);
});

Deno.test("with adds fields to every line, and a line's own fields win", () => {
  const { log, lines } = capture({ format: "json" });
  const child = log.with({ player: "p1", task: 1 }).with({ task: 2 });
  child.info("m", { attempt: 3 });
  child.info("n", { task: 9 });
  log.info("plain");
  assertEquals(lines.map((l) => JSON.parse(l)), [
    { ts: NOW.toISOString(), level: "info", msg: "m", player: "p1", task: 2, attempt: 3 },
    { ts: NOW.toISOString(), level: "info", msg: "n", player: "p1", task: 9 },
    { ts: NOW.toISOString(), level: "info", msg: "plain" },
  ]);
});

Deno.test("the silent logger drops everything and stays silent through with", () => {
  silentLogger.info("x");
  assertEquals(silentLogger.with({ a: 1 }), silentLogger);
});
