import { assertEquals, assertThrows } from "../../_helpers/assert.ts";
import { decodeEvent, OutputTracker } from "../../../lib/client/mod.ts";

const piece = (offset: number, data: string) => ({
  stream: "stdout" as const,
  offset,
  bytes: new TextEncoder().encode(data).length,
  data,
});

Deno.test("output seen again is not printed twice; a piece beyond what was printed tells the gap", () => {
  const t = new OutputTracker();
  assertEquals(t.take(1, 1, piece(0, "ab")), { missed: 0, data: "ab" });
  assertEquals(t.take(1, 1, piece(0, "ab")), { missed: 0, data: "" });
  assertEquals(t.take(1, 1, piece(1, "bcd")), { missed: 0, data: "cd" });
  assertEquals(t.take(1, 1, piece(10, "k")), { missed: 6, data: "k" });
  assertEquals(t.printed(1, 1, "stdout"), 11);
  // An old piece replayed late changes nothing.
  assertEquals(t.take(1, 1, piece(0, "ab")), { missed: 0, data: "" });
  assertEquals(t.printed(1, 1, "stdout"), 11);
  // Another attempt, stream or task has its own count.
  assertEquals(t.take(1, 2, piece(0, "x")), { missed: 0, data: "x" });
  assertEquals(t.take(2, 1, piece(0, "y")), { missed: 0, data: "y" });
  assertEquals(t.take(1, 1, { ...piece(0, "z"), stream: "stderr" }), { missed: 0, data: "z" });
});

Deno.test("a piece partly printed before keeps its bytes after the printed part, UTF-8 included", () => {
  const t = new OutputTracker();
  t.take(3, 1, piece(0, "é")); // 2 bytes
  assertEquals(t.take(3, 1, piece(0, "éü!")), { missed: 0, data: "ü!" });
});

Deno.test("events decode to their types; unknown types are skipped; bad data is a protocol error", () => {
  assertEquals(
    decodeEvent({
      id: "b.3",
      event: "output",
      data: JSON.stringify({
        job: 7,
        task: 2,
        host: "p1",
        attempt: 1,
        stream: "stderr",
        offset: 4,
        bytes: 3,
        data: "hi\n",
      }),
    }),
    {
      type: "output",
      id: "b.3",
      job: 7,
      task: 2,
      host: "p1",
      attempt: 1,
      stream: "stderr",
      offset: 4,
      bytes: 3,
      data: "hi\n",
    },
  );
  assertEquals(decodeEvent({ id: null, event: "future", data: "{}" }), null);
  assertThrows(() => decodeEvent({ id: null, event: "output", data: "{" }), /not JSON/);
  assertThrows(
    () => decodeEvent({ id: null, event: "output", data: '{"job":1,"task":"x"}' }),
    /output\.task is not a number/,
  );
  assertThrows(
    () =>
      decodeEvent({
        id: null,
        event: "output",
        data:
          '{"job":1,"task":1,"host":"p","attempt":1,"stream":"tty","offset":0,"bytes":0,"data":""}',
      }),
    /stream is tty/,
  );
});
