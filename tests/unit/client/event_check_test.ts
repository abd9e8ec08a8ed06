/**
 * The client's event check: told of every event of a stream, whatever its
 * type, and what it throws ends the stream as it is, never taken for a
 * conductor gone away (which would open the stream again).
 */

import { assertEquals, assertRejects } from "../../_helpers/assert.ts";
import { serveOnSocket } from "../../_helpers/socket_api.ts";
import {
  type AnswerCheck,
  AudienceClient,
  type EventCheck,
  type StreamEvent,
} from "../../../lib/client/mod.ts";

const STREAM = [
  'id: b.1\nevent: snapshot\ndata: {"live":[]}\n\n',
  'id: b.2\nevent: news\ndata: {"from":"a newer conductor"}\n\n',
  'id: b.3\nevent: end\ndata: {"job":1,"aggregate":"success","finished_at":"2026-11-23T03:30:00.000Z"}\n\n',
].join("");

/** A server whose only answer is job 1's stream, counting the requests; a client of it. */
async function serve(check?: AnswerCheck, checkEvent?: EventCheck) {
  let asked = 0;
  const served = await serveOnSocket(() => {
    asked++;
    return Promise.resolve(
      new Response(STREAM, { headers: { "content-type": "text/event-stream; charset=utf-8" } }),
    );
  });
  return {
    client: new AudienceClient({ kind: "socket", path: served.socket }, check, checkEvent),
    asked: () => asked,
    [Symbol.asyncDispose]: () => served[Symbol.asyncDispose](),
  };
}

Deno.test("the event check is told of every event, one of a type the client skips too", async () => {
  const told: StreamEvent[] = [];
  await using s = await serve(undefined, (e) => told.push(e));
  const got: string[] = [];
  for await (const ev of s.client.events(1, { timeoutMs: 10_000 })) got.push(ev.type);
  assertEquals(got, ["snapshot", "end"]);
  assertEquals(told.map((e) => [e.path, e.type]), [
    ["/v1/jobs/1/events", "snapshot"],
    ["/v1/jobs/1/events", "news"],
    ["/v1/jobs/1/events", "end"],
  ]);
  assertEquals(told[1].data, { from: "a newer conductor" });
});

Deno.test("what an event check throws ends the stream as it is; it is not opened again", async () => {
  const wrong = new Error("event news is not described");
  await using s = await serve(undefined, (e) => {
    if (e.type === "news") throw wrong;
  });
  const got: string[] = [];
  const err = await assertRejects(async () => {
    for await (const ev of s.client.events(1, { timeoutMs: 10_000 })) got.push(ev.type);
  });
  assertEquals([err, got, s.asked()], [wrong, ["snapshot"], 1]);
});

Deno.test("what an answer check throws on a stream's answer ends it as it is", async () => {
  const wrong = new Error("content type not described");
  await using s = await serve(() => {
    throw wrong;
  });
  const err = await assertRejects(async () => {
    for await (const _ of s.client.events(1, { timeoutMs: 10_000 })) { /* none comes */ }
  });
  assertEquals([err, s.asked()], [wrong, 1]);
});
