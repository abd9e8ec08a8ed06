import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { until } from "../_helpers/proc.ts";
import type { JobSummary } from "../../lib/protocol/mod.ts";

Deno.test("a task waiting for an offline host says since when, and runs once the host is back", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2"] });
  await c.startConductor();
  const p1 = await c.startPlayer("p1");
  await p1.stop();
  await until("p1 offline", async () => {
    const players = await c.client.players();
    return players.some((p) => p.name === "p1" && !p.connected);
  });

  const id = await c.client.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} });
  const job = await c.client.job(id);
  assertEquals([job.aggregate, job.offline], ["pending", 1]);
  const [task] = (await c.client.tasks(id, { page: 1, limit: 10 })).tasks;
  assertEquals(task.state, "queued");
  assert(
    task.offline_since !== null && Date.parse(task.offline_since) > 0,
    JSON.stringify(task),
  );
  // The wait answer carries the count too.
  const waited = await c.client.waitJob(id, { timeoutMs: 100 });
  assertEquals(waited.offline, 1);

  const shown = await c.cli(["status", String(id)]);
  assertEquals(shown.code, 0, shown.stderr);
  assertMatch(
    shown.stdout,
    /p1 +queued, host offline since \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \([^)]+ ago\)/,
  );
  assertMatch(shown.stdout, /offline: 1 queued task waits for a host not connected/);

  // A host the conductor has never seen says so.
  const never = await c.client.submit({
    score: "hello",
    scope: "all",
    targets: ["p2"],
    params: {},
  });
  const neverShown = await c.cli(["status", String(never)]);
  assertMatch(neverShown.stdout, /p2 +queued, host offline \(never connected\)/);
  assertEquals(
    (await c.client.tasks(never, { page: 1, limit: 1 })).tasks[0].offline_since,
    "1970-01-01T00:00:00.000Z",
  );

  await c.startPlayer("p1");
  const done = await c.wait(id);
  assertEquals([done.aggregate, done.offline, done.tasks[0].offline_since], ["success", 0, null]);
});

Deno.test("a request id sent again with a different request is refused with 409; the same request gets its job", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  await c.startPlayer("p1");
  const post = (body: unknown) =>
    c.socketFetch("/v1/jobs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const sent = {
    score: "hello",
    scope: "all",
    targets: ["p1"],
    params: { NAME: "ops" },
    request_id: "req-42",
  };
  const first = await post(sent);
  assertEquals(first.status, 201);
  const { id } = await first.json() as { id: number };

  // The same request, keys in another order: its job.
  const { request_id, params, ...rest } = sent;
  const again = await post({ request_id, params, ...rest });
  assertEquals([again.status, await again.json()], [201, { id }]);

  for (
    const changed of [
      { ...sent, params: { NAME: "dev" } },
      { ...sent, retries: 1 },
      { ...sent, scope: "one" },
    ]
  ) {
    const r = await post(changed);
    const body = await r.json() as { error: { code: string; message: string } };
    assertEquals([r.status, body.error.code], [409, "conflict"], JSON.stringify(changed));
    assertMatch(body.error.message, new RegExp(`"req-42" was already used for job ${id}\\b`));
  }
  assertEquals((await c.client.jobs(10)).map((j) => j.id), [id]);
});

Deno.test("cancel of a finished job says how it ended and exits 7; nothing is cancelled", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  await c.startPlayer("p1");
  const id = await c.client.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} });
  const done = await c.wait(id);

  const r = await c.cli(["cancel", String(id)]);
  assertEquals(r.code, 7, r.stderr);
  assertEquals(r.stdout, "");
  assertMatch(
    r.stderr,
    new RegExp(
      `^orch: job ${id} had already finished \\(success\\) at ${
        new Date(done.finished_at!).toISOString().replace(/\./, "\\.")
      }; nothing was cancelled\n$`,
    ),
  );

  const api = await c.socketFetch(`/v1/jobs/${id}/cancel`, { method: "POST" });
  assertEquals(api.status, 409);
  assertEquals((await api.json() as { error: { code: string } }).error.code, "finished");
  assertEquals((await c.client.job(id)).cancelled_at, null);
  // The audit trail keeps each try, as refused.
  const records = (await c.client.audit({ limit: 10 })).filter((a) => a.action === "cancel");
  assertEquals(records.map((a) => [a.job_id, a.outcome]), [[id, "refused"], [id, "refused"]]);
  assertMatch(records[0].reason ?? "", /had already finished/);
});

Deno.test("orch jobs filters by state, score, submitter and time", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  await c.startPlayer("p1");
  const ok = await c.client.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} });
  const bad = await c.client.submit({ score: "fail", scope: "all", targets: ["p1"], params: {} });
  await c.wait(ok);
  await c.wait(bad);
  const by = (await c.client.job(ok)).submitted_by;

  const list = async (args: string[]) => {
    const r = await c.cli(["jobs", "--json", ...args]);
    assertEquals(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { jobs: JobSummary[] }).jobs.map((j) => j.id);
  };
  assertEquals(await list([]), [bad, ok]);
  assertEquals(await list(["--state", "failure"]), [bad]);
  assertEquals(await list(["--state", "finished", "--score", "hello"]), [ok]);
  assertEquals(await list(["--state", "open"]), []);
  assertEquals(await list(["--by", by, "--since", "1h", "--limit", "1"]), [bad]);
  assertEquals(await list(["--by", by, "--before", String(bad)]), [ok]);
  assertEquals(await list(["--by", "audience:nobody"]), []);
  assertEquals(await list(["--until", "1h"]), []);

  const text = await c.cli(["jobs", "--state", "success"]);
  assertMatch(text.stdout, new RegExp(`^\\s*${ok}\\s+hello\\b`, "m"));
  assert(!new RegExp(`^\\s*${bad}\\s`, "m").test(text.stdout), text.stdout);

  const wrong = await c.cli(["jobs", "--state", "done"]);
  assertEquals(wrong.code, 2);
  assertMatch(wrong.stderr, /--state "done" is not one of pending, running, success/);
  const api = await c.socketFetch("/v1/jobs?state=done");
  assertEquals(api.status, 400);
  assertMatch((await api.json() as { error: { message: string } }).error.message, /state/);
  for (const q of ["since=yesterday", "until=-1", "submitted_by=nobody", "score=a%20b"]) {
    const r = await c.socketFetch(`/v1/jobs?${q}`);
    const { error } = await r.json() as { error: { message: string } };
    assertEquals(r.status, 400, q);
    assertMatch(error.message, new RegExp(`query parameter ${q.split("=")[0]}\\b`));
  }
});
