import { assertEquals, assertThrows } from "../../_helpers/assert.ts";
import { SseParser } from "../../../lib/client/mod.ts";

const STREAM =
  'id: b.1\nevent: task\ndata: {"a":1}\n\n: keep-alive\n\nid: b.2\nevent: output\ndata: {"b":2}\n\n';

Deno.test("the event stream parser gives the same events whichever way the text is split", () => {
  const whole = new SseParser().push(STREAM);
  assertEquals(whole, [
    { id: "b.1", event: "task", data: '{"a":1}' },
    { id: "b.2", event: "output", data: '{"b":2}' },
  ]);
  for (let cut = 1; cut < STREAM.length; cut++) {
    const p = new SseParser();
    const got = [...p.push(STREAM.slice(0, cut)), ...p.push(STREAM.slice(cut))];
    assertEquals(got, whole, `split at ${cut}`);
  }
  const p = new SseParser();
  assertEquals([...STREAM].flatMap((c) => p.push(c)), whole);
  assertEquals(p.lastId, "b.2");
});

Deno.test("the event stream parser skips comments and joins data lines with newlines", () => {
  const p = new SseParser();
  assertEquals(p.push(": hello\n: keep-alive\n\n"), []);
  assertEquals(p.push("event: x\ndata: one\ndata:two\ndata\n\n"), [
    { id: null, event: "x", data: "one\ntwo\n" },
  ]);
  assertEquals(p.push("data: plain\n\n"), [{ id: null, event: "message", data: "plain" }]);
});

Deno.test("the event stream parser takes CRLF and CR line ends, also split between chunks", () => {
  const text = "id: 7\r\nevent: end\r\ndata: {}\r\n\r\nevent: a\rdata: 1\r\r";
  const want = [
    { id: "7", event: "end", data: "{}" },
    { id: "7", event: "a", data: "1" },
  ];
  assertEquals(new SseParser().push(text), want);
  for (let cut = 1; cut < text.length; cut++) {
    const p = new SseParser();
    assertEquals([...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))], want, `at ${cut}`);
  }
});

Deno.test("the event stream parser refuses a line or an event over its limits", () => {
  const p = new SseParser({ maxLine: 16, maxEvent: 64 });
  assertThrows(() => p.push("data: " + "x".repeat(20)), /line over 16 characters/);
  const q = new SseParser({ maxLine: 16, maxEvent: 20 });
  q.push("data: 0123456789\n");
  assertThrows(() => q.push("data: 0123456789\n"), /event over 20 characters/);
  // Below the limits: fine.
  assertEquals(new SseParser({ maxLine: 16 }).push("data: 0123456789\n\n").length, 1);
});
