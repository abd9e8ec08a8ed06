import { assertEquals, assertThrows } from "../../_helpers/assert.ts";
import { jobOf, T0, task } from "../../_helpers/fake_backend.ts";
import {
  decodeTime,
  decodeTimeParam,
  jobViewJson,
  parseTimeText,
  taskViewJson,
  timeMs,
  timeText,
} from "../../../lib/protocol/mod.ts";

Deno.test("a time is sent as RFC 3339 in UTC with milliseconds, and read back to the same ms", () => {
  assertEquals(timeText(1795404600123), "2026-11-23T03:30:00.123Z");
  assertEquals(timeMs("2026-11-23T03:30:00.123Z"), 1795404600123);
  assertEquals(timeText(0), "1970-01-01T00:00:00.000Z");
});

Deno.test("an RFC 3339 time is read with its zone; one without a zone or a day that does not exist is not", () => {
  assertEquals(parseTimeText("2026-11-23T05:30:00+02:00"), 1795404600000);
  assertEquals(parseTimeText("2026-11-23 03:30:00.123456Z"), 1795404600123);
  assertEquals(parseTimeText("2024-02-29T00:00:00z"), Date.UTC(2024, 1, 29));
  for (const bad of ["2026-11-23T03:30:00", "2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "1"]) {
    assertEquals(parseTimeText(bad), null, bad);
  }
});

Deno.test("a request's time is RFC 3339 or epoch ms; anything else names the field", () => {
  assertEquals(decodeTime("2026-11-23T03:30:00Z", "deadline"), 1795404600000);
  assertEquals(decodeTime(1795404600000, "deadline"), 1795404600000);
  assertEquals(decodeTimeParam("1795404600000", "query parameter since"), 1795404600000);
  assertEquals(
    decodeTimeParam("2026-11-23T04:30:00+01:00", "query parameter since"),
    1795404600000,
  );
  assertThrows(
    () => decodeTimeParam("yesterday", "query parameter since"),
    /^query parameter since: expected an RFC 3339 time with its zone such as 2026-11-23T03:30:00Z, got "yesterday"$/,
  );
  assertThrows(() => decodeTime(1.5, "before"), /^before: expected an RFC 3339 time/);
  assertThrows(
    () => decodeTime("1969-12-31T23:59:59Z", "before"),
    /^before: expected a time from 1970-01-01T00:00:00\.000Z to .*, got 1969-12-31T23:59:59\.000Z$/,
  );
});

Deno.test("every time of a job's view and of a task (with its attempts) is sent as a string", () => {
  const t = task({
    id: 1,
    not_before: T0 + 1,
    offline_since: 0,
    attempts: [{
      attempt: 1,
      player: "p1",
      state: "failed",
      started_at: T0,
      ended_at: null,
      exit_code: 1,
      signal: null,
      error: null,
    }],
  });
  const job = jobViewJson(jobOf([t], { deadline: T0 + 9, cancelled_at: null }));
  assertEquals(
    [job.submitted_at, job.finished_at, job.deadline, job.cancelled_at],
    [timeText(T0), timeText(T0 + 35), timeText(T0 + 9), null],
  );
  const sent = taskViewJson(t);
  assertEquals(
    [sent.started_at, sent.ended_at, sent.not_before, sent.offline_since],
    [timeText(T0 + 10), timeText(T0 + 15), timeText(T0 + 1), "1970-01-01T00:00:00.000Z"],
  );
  assertEquals([sent.attempts[0].started_at, sent.attempts[0].ended_at], [timeText(T0), null]);
});
