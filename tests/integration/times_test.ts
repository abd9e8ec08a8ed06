/**
 * Times on the audience API's wire: every time sent, in answers and in
 * events, is RFC 3339 in UTC with milliseconds; every time a request gives
 * is RFC 3339 with its zone or epoch ms. (Every answer here is also checked
 * against the OpenAPI description, whose date-time is that form.)
 */

import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { SseReader } from "../_helpers/sse.ts";

/** A time as the API sends it. */
const SENT = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const JSON_TYPE = { "content-type": "application/json" };

Deno.test("a submit's deadline in RFC 3339 with a zone comes back in UTC; times in the job, its tasks, the list and the events are RFC 3339", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  await c.startPlayer("p1");

  const made = await c.socketFetch("/v1/jobs", {
    method: "POST",
    headers: JSON_TYPE,
    body: JSON.stringify({
      score: "hello",
      scope: "all",
      targets: ["p*"],
      params: {},
      deadline: "2286-01-01T02:00:00.5+02:00",
    }),
  });
  assertEquals(made.status, 201);
  const { id } = await made.json();
  const done = await c.wait(id);
  assertEquals(done.deadline, "2286-01-01T00:00:00.500Z");
  assertEquals([done.targets, done.hosts, done.host_count], [["p*"], ["p1"], 1]);
  assertMatch(done.submitted_at, SENT);
  assertMatch(done.finished_at!, SENT);
  assert(Date.parse(done.finished_at!) >= Date.parse(done.submitted_at));
  const [t] = done.tasks;
  assertMatch(t.started_at!, SENT);
  assertMatch(t.ended_at!, SENT);
  assertMatch(t.attempts[0].started_at!, SENT);

  // The job list filters by RFC 3339 (a `+` written %2B) and by epoch ms alike.
  const at = Date.parse(done.submitted_at);
  const since = encodeURIComponent(new Date(at).toISOString().replace("Z", "+00:00"));
  const listed = await c.socketFetch(`/v1/jobs?since=${since}&until=${at + 1}`);
  const { jobs } = await listed.json();
  assertEquals(jobs.map((j: { id: number; host_count: number }) => [j.id, j.host_count]), [[
    id,
    1,
  ]]);
  const later = await c.socketFetch(
    `/v1/jobs?since=${encodeURIComponent(new Date(at + 1).toISOString())}`,
  );
  assertEquals((await later.json()).jobs, []);

  // The event stream of a finished job: its snapshot's job and its end carry RFC 3339 times.
  using s = await SseReader.socket(c, `/v1/jobs/${id}/events`);
  const events = await s.rest();
  const snapshot = events.find((e) => e.event === "snapshot");
  assertEquals(snapshot?.data.job.submitted_at, done.submitted_at);
  assertEquals(events.at(-1)?.data.finished_at, done.finished_at);

  const players = await c.client.players();
  assertMatch(players[0].last_seen!, SENT);
  const records = await c.client.audit({ limit: 5 });
  for (const r of records) assertMatch(r.at, SENT);
});

Deno.test("a time without a zone, or not a time, is a 400 naming where it is, and nothing is stored", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();

  const noZone = await c.socketFetch("/v1/jobs", {
    method: "POST",
    headers: JSON_TYPE,
    body: JSON.stringify({
      score: "hello",
      scope: "all",
      targets: ["p1"],
      deadline: "2030-01-01T00:00:00",
    }),
  });
  assertEquals(noZone.status, 400);
  assertMatch(
    (await noZone.json()).error.message,
    /^deadline: expected an RFC 3339 time with its zone such as 2026-11-23T03:30:00Z, got "2030-01-01T00:00:00"$/,
  );
  const since = await c.socketFetch("/v1/jobs?since=yesterday");
  assertEquals(since.status, 400);
  assertMatch(
    (await since.json()).error.message,
    /^query parameter since: expected an RFC 3339 time/,
  );
  const prune = await c.socketFetch("/v1/prune", {
    method: "POST",
    headers: JSON_TYPE,
    body: JSON.stringify({ before: "last week" }),
  });
  assertEquals(prune.status, 400);
  assertMatch((await prune.json()).error.message, /^before: expected an RFC 3339 time/);
  assertEquals(await c.client.jobs(10), []);

  // A prune by RFC 3339 answers its time as sent.
  const ok = await c.socketFetch("/v1/prune", {
    method: "POST",
    headers: JSON_TYPE,
    body: JSON.stringify({ before: "2020-01-01T01:00:00+01:00", dry_run: true }),
  });
  assertEquals(ok.status, 200);
  assertEquals((await ok.json()).before, "2020-01-01T00:00:00.000Z");
});
