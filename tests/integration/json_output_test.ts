/**
 * `--json`: every command prints one JSON object on one line, and it is the
 * audience API's answer for the same thing — the same object the route
 * returns, valid by the API's OpenAPI description.
 */

import { assert, assertEquals } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { openApiChecker } from "../_helpers/openapi.ts";

/** Checks `body` as the answer of `method path` with `status`, by the API's description. */
function isAnswer(method: string, path: string, status: number, body: unknown): void {
  openApiChecker.check({ method, path, status, contentType: "application/json", body });
}

/** `value` without the keys that change from one moment to the next (a player's last frame). */
function steady(players: Record<string, unknown>[]): Record<string, unknown>[] {
  return players.map(({ last_seen: _, ...rest }) => rest);
}

Deno.test("every --json prints one JSON object on one line: the API's answer for the same request", async () => {
  await using c = await Cluster.create({ players: ["p1", "p2"] });
  await c.startConductor();
  await c.startPlayer("p1");

  /** Runs `orch args --json`; it must exit 0 and print one line, which is returned parsed. */
  const json = async (args: string[]) => {
    const r = await c.cli([...args, "--json"]);
    assertEquals(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    assert(r.stdout.endsWith("\n") && !r.stdout.slice(0, -1).includes("\n"), r.stdout);
    const value = JSON.parse(r.stdout);
    assert(value !== null && typeof value === "object" && !Array.isArray(value), r.stdout);
    return value;
  };
  /** The API's answer to a GET, as the command's client gets it. */
  const get = async (path: string) => await (await c.socketFetch(path)).json();

  const submitted = await json(["submit", "hello", "--all", "-t", "p1"]);
  isAnswer("POST", "/v1/jobs", 201, submitted);
  assertEquals(Object.keys(submitted), ["id"]);
  await c.wait(submitted.id);

  // submit --wait and status: the job, and the page of its tasks with their output.
  const waited = await json(["submit", "hello", "--all", "-t", "p1", "NAME=json", "--wait"]);
  const id = waited.job.id;
  assertEquals(waited, await json(["status", String(id)]));
  assertEquals(waited, {
    job: await get(`/v1/jobs/${id}`),
    tasks: await get(`/v1/jobs/${id}/tasks?page=1&limit=50&output=1`),
  });
  isAnswer("GET", `/v1/jobs/${id}`, 200, waited.job);
  isAnswer("GET", `/v1/jobs/${id}/tasks`, 200, waited.tasks);

  // cancel: what was cancelled. p2 is offline, so its task is still queued.
  const queued = await json(["submit", "hello", "--all", "-t", "p2"]);
  const cancelled = await json(["cancel", String(queued.id)]);
  isAnswer("POST", `/v1/jobs/${queued.id}/cancel`, 200, cancelled);
  assertEquals(cancelled, { id: queued.id, cancelled: 1, stopping: 0 });

  // jobs: {jobs: [...]}, as GET /v1/jobs returns it.
  const jobs = await json(["jobs"]);
  isAnswer("GET", "/v1/jobs", 200, jobs);
  assertEquals(jobs, await get("/v1/jobs?limit=20"));
  assertEquals(jobs.jobs.map((j: { id: number }) => j.id), [queued.id, id, submitted.id]);
  assertEquals(await json(["jobs", "--state", "success", "--limit", "1"]), {
    jobs: [jobs.jobs[1]],
  });

  // players: {players: [...]}, filtered as GET /v1/players?target= filters.
  const players = await json(["players"]);
  isAnswer("GET", "/v1/players", 200, players);
  assertEquals(steady(players.players), steady((await get("/v1/players")).players));
  const p2 = await json(["players", "p2"]);
  isAnswer("GET", "/v1/players", 200, p2);
  assertEquals(steady(p2.players), steady((await get("/v1/players?target=p2")).players));
  assertEquals(p2.players.map((p: { name: string }) => p.name), ["p2"]);

  // drain and undrain: the player's name, whether it drains, what it runs.
  const drained = await json(["drain", "p1"]);
  isAnswer("POST", "/v1/players/p1/drain", 200, drained);
  assertEquals(drained, { name: "p1", draining: true, running: 0 });
  const undrained = await json(["undrain", "p1"]);
  isAnswer("POST", "/v1/players/p1/undrain", 200, undrained);
  assertEquals(undrained, { name: "p1", draining: false, running: 0 });

  // schedule add, list, run-now, remove.
  const added = await json([
    "schedule",
    "add",
    "nightly",
    "hello",
    "--all",
    "-t",
    "p1",
    "--every",
    "1h",
  ]);
  isAnswer("POST", "/v1/schedules", 201, added);
  assertEquals([added.name, added.spec], ["nightly", { every_ms: 3_600_000 }]);
  const schedules = await json(["schedule", "list"]);
  isAnswer("GET", "/v1/schedules", 200, schedules);
  assertEquals(schedules, await get("/v1/schedules"));
  assertEquals(schedules.schedules, [added]);
  const ran = await json(["schedule", "run-now", "nightly"]);
  isAnswer("POST", "/v1/schedules/nightly/run", 201, ran);
  assertEquals(Object.keys(ran), ["name", "id"]);
  await c.wait(ran.id);
  const removed = await json(["schedule", "remove", "nightly"]);
  isAnswer("DELETE", "/v1/schedules/nightly", 200, removed);
  assertEquals(removed, { name: "nightly", removed: true });

  // audit: {records: [...]}; records older than the newest seen stay as they are.
  const newest = (await get("/v1/audit?limit=1")).records[0].id;
  const audit = await json(["audit", "--before", String(newest + 1), "--limit", "100"]);
  isAnswer("GET", "/v1/audit", 200, audit);
  assertEquals(audit, await get(`/v1/audit?limit=100&before=${newest + 1}`));
  assert(audit.records.length > 0);

  // prune: what was (or would be) pruned.
  const pruned = await json(["prune", "--before", "0s", "--dry-run"]);
  isAnswer("POST", "/v1/prune", 200, pruned);
  assertEquals([pruned.dry_run, pruned.jobs], [true, 4]);
});
