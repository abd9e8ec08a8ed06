/**
 * Several conductors on one PostgreSQL database (a private server, fsync
 * on): one leads, the other stands by and refuses players and the audience
 * naming the leader; a leader killed, paused or cut off from its database
 * is replaced, and nothing acknowledged is lost or run twice.
 */

import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { checkAnswer, Cluster, type FullJob } from "../_helpers/cluster.ts";
import { PgCluster } from "../_helpers/postgres.ts";
import { Proc, ROOT, until } from "../_helpers/proc.ts";
import { AudienceClient } from "../../lib/client/mod.ts";
import type { JobSummaryJson as JobSummary, SubmitInput } from "../../lib/protocol/mod.ts";
import { answerCheck, eventCheck } from "../_helpers/openapi.ts";
import { SseReader } from "../_helpers/sse.ts";
import { at, type Member, startMember } from "../_helpers/conductor_pair.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");

const LEADING = /leading: took the leadership/;
const STANDBY = /standby: another conductor may lead/;

/** A test's world: a PostgreSQL server with a database, and a cluster of certificates. */
async function world(players: string[]) {
  const pg = await PgCluster.start({ fsync: true });
  const db = await pg.createDatabase("failover");
  const c = await Cluster.create({ players, scoresDir: TESTDATA });
  return {
    pg,
    c,
    url: pg.socketUrl(db),
    async [Symbol.asyncDispose]() {
      await c[Symbol.asyncDispose]();
      await pg[Symbol.asyncDispose]();
    },
  };
}

/** Starts `a` as the leader (waits for it), then `b` as a standby. */
async function pair(c: Cluster, url: string): Promise<[Member, Member]> {
  const a = startMember(c, url, "conductor-a");
  await a.proc.waitFor(LEADING, 30_000);
  await a.proc.waitFor(/conductor ready/, 30_000);
  const b = startMember(c, url, "conductor-b");
  await b.proc.waitFor(STANDBY, 30_000);
  return [a, b];
}

/** A player dialling both conductors. */
function playerOf(c: Cluster, name: string, a: Member, b: Member, extra: string[] = []) {
  return c.startPlayer(name, {
    extra: ["--conductor", `${at(a.players)},${at(b.players)}`, ...extra],
    wait: false,
  });
}

/** Waits until `m` lists every one of `names` connected. */
async function connected(m: Member, names: string[]): Promise<void> {
  await until(`${names.join(",")} connected to ${m.name}`, async () => {
    const list = await m.client.players();
    return names.every((n) => list.some((p) => p.name === n && p.connected && p.slots > 0));
  }, 30_000);
}

/**
 * A request without a proof on a Unix socket, its answer checked against
 * the API's description: the status and the JSON body.
 */
async function socketGet(
  socket: string,
  path: string,
  method = "GET",
): Promise<{ status: number; body: unknown }> {
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  try {
    const res = await fetch(`http://orch${path}`, { client, method });
    const body = new Uint8Array(await res.arrayBuffer());
    checkAnswer(method, path, res, body);
    return { status: res.status, body: JSON.parse(new TextDecoder().decode(body)) };
  } finally {
    client.close();
  }
}

/** Runs of the append score, per host, as `job task attempt` lines. */
async function runs(dir: string, host: string): Promise<string[]> {
  const text = await Deno.readTextFile(join(dir, `${host}.log`)).catch(() => "");
  return text.split("\n").filter((l) => l !== "");
}

Deno.test("two conductors on one database: one leads, the standby refuses players and the CLI naming the leader, and both addresses reach the leader", async () => {
  await using w = await world(["p1"]);
  const { c, url } = w;
  const [a, b] = await pair(c, url);

  // The standby: health says so, ready does not, the rest is 503 not_leader naming the leader.
  assertEquals((await a.client.health()).role, "leader");
  const health = await b.client.health() as unknown as Record<string, unknown>;
  assertEquals(health.role, "standby");
  assertMatch(String(health.leader), new RegExp(`\\[${a.proc.child.pid}\\]$`));
  assertEquals(health.leader_audience, at(a.audience));
  const ready = await socketGet(b.socket, "/v1/ready");
  assertEquals(ready.status, 503);
  assertMatch(JSON.stringify(ready.body), /standby; the leader is /);
  const jobsAnswer = await socketGet(b.socket, "/v1/jobs");
  assertEquals(jobsAnswer.status, 503);
  assertEquals(
    (jobsAnswer.body as { error: Record<string, unknown> }).error.leader,
    at(a.audience),
  );
  assertEquals((jobsAnswer.body as { error: Record<string, unknown> }).error.code, "not_leader");
  // Every other request too, on a route or not, the dashboard's page and the event streams
  // included; each answer as the description says.
  for (
    const [method, path] of [
      ["GET", "/v1/openapi.json"],
      ["GET", "/v1/me"],
      ["POST", "/v1/jobs"],
      ["POST", "/v1/health"],
      ["GET", "/v1/nothing"],
      ["GET", "/"],
    ]
  ) {
    const r = await socketGet(b.socket, path, method);
    assertEquals(r.status, 503, `${method} ${path}`);
    assertEquals((r.body as { error: Record<string, unknown> }).error.leader, at(a.audience));
  }
  for (const path of ["/v1/events", "/v1/jobs/1/events"]) {
    using s = await SseReader.socket({ socket: b.socket }, path, {}, { proof: false });
    assertEquals(s.status, 503, path);
    assertMatch(await s.text(), /"code":"not_leader"/);
  }

  const cliArgs = (list: string) => [
    "submit",
    "whoami",
    "--all",
    "-t",
    "p1",
    "--wait",
    ...c.httpsFlags("alice"),
    "--conductor",
    list,
    "--connect-timeout",
    "2s",
  ];
  // Only the standby: refused, naming the leader; nothing submitted.
  let r = await c.cli(cliArgs(at(b.audience)));
  assertEquals(r.code, 6, r.stderr);
  assertMatch(r.stderr, new RegExp(`standby; the leader is ${at(a.audience)}`));
  assertEquals((await a.client.jobs(10)).length, 0);

  // A player that dials the standby first is told where the leader is, and goes there.
  const p1 = await c.startPlayer("p1", {
    extra: ["--conductor", `${at(b.players)},${at(a.players)}`],
    wait: false,
  });
  await p1.waitFor(
    new RegExp(
      `the conductor is not the leader .*conductor=${at(b.players)} leader=${at(a.players)}`,
    ),
    30_000,
  );
  await connected(a, ["p1"]);
  assertMatch(b.proc.log, STANDBY);
  assert(!b.proc.log.includes("conductor ready"), "the standby never started serving");

  // The CLI given both addresses, the standby first: the job is made once, on the leader.
  r = await c.cli(cliArgs(`${at(b.audience)},${at(a.audience)}`));
  assertEquals(r.code, 0, r.stderr);
  const jobs = await a.client.jobs(10);
  assertEquals(jobs.length, 1);
  assertEquals(jobs[0].aggregate, "success");
});

/** The append score on every one of `hosts`, recording its runs in `out`. */
function appendJob(out: string, hosts: string[], sleep: string): SubmitInput {
  return { score: "append", scope: "all", targets: hosts, params: { OUT: out, SLEEP: sleep } };
}

/** Checks that every job of `ids` ran exactly once on each of `hosts`, and no job ran twice anywhere. */
async function ranOnce(out: string, hosts: string[], ids: number[]): Promise<void> {
  for (const h of hosts) {
    const count = new Map<number, number>();
    for (const line of await runs(out, h)) {
      const job = Number(line.split(" ")[0]);
      count.set(job, (count.get(job) ?? 0) + 1);
    }
    const twice = [...count].filter(([, n]) => n > 1);
    assertEquals(twice, [], `jobs run more than once on ${h}`);
    const missing = ids.filter((id) => count.get(id) !== 1);
    assertEquals(missing, [], `acknowledged jobs that never ran on ${h}`);
  }
}

/** Waits for every job of `ids` on `m`; all must succeed. */
async function allSucceed(m: Member, ids: number[]): Promise<void> {
  for (const id of ids) {
    const job: Omit<FullJob, "tasks"> = await m.client.waitJob(id, { timeoutMs: 60_000 });
    assertEquals(job.aggregate, "success", JSON.stringify(job));
  }
}

/** Submitting clients of the burst; each sends one submit at a time. */
const SENDERS = 8;
/** Submits in the burst. */
const BURST = 500;
/** The leader is killed once this many submits were acknowledged. */
const KILL_AFTER = 200;
/** How long a submit is sent again while no conductor serves. */
const RESEND_MS = 60_000;

/** An HTTPS client of alice's that knows both conductors, `first` first. */
async function listClient(c: Cluster, first: Member, second: Member): Promise<AudienceClient> {
  const tls = await c.audienceTls("alice");
  return new AudienceClient(
    {
      kind: "https",
      host: "127.0.0.1",
      port: first.audience,
      tls,
      expectName: "localhost",
      others: [{ host: "127.0.0.1", port: second.audience, expectName: "localhost" }],
    },
    answerCheck,
    eventCheck,
  );
}

/** Every job `m` holds, newest first, page by page. */
async function allJobs(m: Member): Promise<JobSummary[]> {
  const out: JobSummary[] = [];
  for (let page = 0; page < 100; page++) {
    const got = await m.client.jobs(200, out.at(-1)?.id);
    out.push(...got);
    if (got.length < 200) return out;
  }
  throw new Error("more than 20,000 jobs listed");
}

/** The time (epoch ms, from the log line) of the first task a player started after it connected to `to`. */
function firstStartedVia(players: Proc[], from: number[], to: string): number | null {
  let first: number | null = null;
  players.forEach((p, i) => {
    let via = false;
    for (const line of p.lines.slice(from[i])) {
      if (line.includes("connected to the conductor") && line.includes(`conductor=${to}`)) {
        via = true;
      } else if (via && line.includes("task started")) {
        const at = Date.parse(line.split(" ")[0]);
        if (Number.isFinite(at) && (first === null || at < first)) first = at;
        return;
      }
    }
  });
  return first;
}

Deno.test("kill -9 of the leader in the middle of a burst of 500 submits on five players: the standby takes over, every acknowledged job completes, each (job, host) ran once", async () => {
  const hosts = ["p1", "p2", "p3", "p4", "p5"];
  await using w = await world(hosts);
  const { c, url } = w;
  const [a, b] = await pair(c, url);
  assertEquals((await a.client.health()).role, "leader");
  const players = await Promise.all(hosts.map((n) => playerOf(c, n, a, b, ["--slots", "8"])));
  await connected(a, hosts);
  const out = join(c.dir, "runs");
  await Deno.mkdir(out);

  // The burst: SENDERS clients, each given both conductors, take the next submit in turn. A
  // submit whose answer was lost in the kill is sent again, with its request id, until a
  // conductor serves: it is found, not made twice.
  const acked: number[] = [];
  const refused: string[] = [];
  let resent = 0;
  let next = 0;
  const senders = await Promise.all(
    Array.from({ length: SENDERS }, () => listClient(c, a, b)),
  );
  const burst = Promise.all(senders.map(async (client) => {
    while (next < BURST) {
      next++;
      try {
        acked.push(
          await client.submit(appendJob(out, hosts, "0"), {
            retryForMs: RESEND_MS,
            onRetry: () => resent++,
          }),
        );
      } catch (err) {
        refused.push(String(err));
      }
    }
  }));
  await until(`${KILL_AFTER} submits acknowledged`, () => acked.length >= KILL_AFTER, 120_000);
  const from = players.map((p) => p.lines.length);
  const killedAt = Date.now();
  await a.proc.kill9();
  const ackedBeforeKill = acked.length;

  await b.proc.waitFor(LEADING, 30_000);
  await b.proc.waitFor(/conductor ready/, 30_000);
  assertEquals((await b.client.health()).role, "leader");
  await burst;
  const started = await until(
    "a task started by the new leader",
    () => firstStartedVia(players, from, at(b.players)) ?? false,
    60_000,
  );
  console.log(
    `failover: ${started - killedAt} ms from the kill to the first task started by the new ` +
      `leader (${ackedBeforeKill} of ${BURST} acknowledged at the kill; ${resent} sends again)`,
  );

  // Every submit was answered in the end, each with a job of its own, and no job was made twice.
  assertEquals(refused, [], "submits never acknowledged");
  assertEquals(acked.length, BURST);
  assertEquals(new Set(acked).size, BURST, "two submits answered with one job");
  let jobs: JobSummary[] = [];
  await until(
    "every job finished",
    async () => {
      jobs = await allJobs(b);
      return jobs.every((j) => j.finished_at !== null);
    },
    120_000,
    250,
  );
  assertEquals(jobs.length, BURST, "jobs made that no submit was answered with");
  const failed = jobs.filter((j) => j.aggregate !== "success");
  assertEquals(failed, [], "jobs that did not succeed");
  await ranOnce(out, hosts, acked);
});

Deno.test("fencing: a leader paused past its lease is replaced; resumed, it acknowledges nothing and stands by", async () => {
  await using w = await world(["p1"]);
  const { c, url } = w;
  const [a, b] = await pair(c, url);
  await playerOf(c, "p1", a, b);
  await connected(a, ["p1"]);
  const out = join(c.dir, "runs");
  await Deno.mkdir(out);
  const before = await a.client.submit(appendJob(out, ["p1"], "0"));
  await allSucceed(a, [before]);

  a.proc.signal("SIGSTOP");
  await b.proc.waitFor(LEADING, 30_000);
  await b.proc.waitFor(/conductor ready/, 30_000);
  // A submit sent to the old leader while it is paused: read once it runs again.
  const sent = a.client.submit(appendJob(out, ["p1"], "0")).then(
    (id) => ({ id, error: null }),
    (error) => ({ id: null, error: String(error) }),
  );
  const from = a.proc.lines.length;
  a.proc.signal("SIGCONT");
  const answer = await sent;
  assertEquals(answer.id, null, "the old leader acknowledged a submit after the takeover");
  await a.proc.waitFor(/lost the leadership/, 30_000, from);
  await a.proc.waitFor(STANDBY, 30_000, from);
  // Nothing but the job before: the new leader holds exactly what was acknowledged.
  await connected(b, ["p1"]);
  const jobs = await b.client.jobs(10);
  assertEquals(jobs.map((j) => j.id), [before], JSON.stringify(jobs));
  const after = await b.client.submit(appendJob(out, ["p1"], "0"));
  await allSucceed(b, [after]);
  await ranOnce(out, ["p1"], [before, after]);
});

Deno.test("the database restarted under a running leader: it stands by while the database is away, leads again, and loses nothing", async () => {
  await using w = await world(["p1"]);
  const { pg, c, url } = w;
  const a = startMember(c, url, "conductor-a");
  await a.proc.waitFor(LEADING, 30_000);
  await a.proc.waitFor(/conductor ready/, 30_000);
  await c.startPlayer("p1", { extra: ["--conductor", at(a.players)], wait: false });
  await connected(a, ["p1"]);
  const out = join(c.dir, "runs");
  await Deno.mkdir(out);
  const id = await a.client.submit(appendJob(out, ["p1"], "3"));
  await until("the job running", async () => (await a.client.job(id)).counts.running === 1);

  const from = a.proc.lines.length;
  await pg.restart();
  await a.proc.waitFor(/lost the leadership/, 30_000, from);
  await a.proc.waitFor(LEADING, 60_000, from);
  await a.proc.waitFor(/conductor ready/, 30_000, from);
  await connected(a, ["p1"]);
  await allSucceed(a, [id]);
  await ranOnce(out, ["p1"], [id]);
});

Deno.test("fencing: a leader whose epoch was taken, its own session still alive, writes nothing more, and takes the leadership anew", async () => {
  await using w = await world(["p1"]);
  const { pg, c, url } = w;
  const a = startMember(c, url, "conductor-a");
  await a.proc.waitFor(LEADING, 30_000);
  await a.proc.waitFor(/conductor ready/, 30_000);
  const out = join(c.dir, "runs");
  await Deno.mkdir(out);
  // Another leader's takeover, as the database sees it: the epoch moved on.
  const db = new URL(url).pathname.slice(1);
  await pg.psql(db, "UPDATE orch_leader SET epoch = epoch + 1, name = 'another'");
  const from = a.proc.lines.length;
  const answer = await a.client.submit(appendJob(out, ["p1"], "0")).then(
    (id) => ({ id, error: null }),
    (error) => ({ id: null, error: String(error) }),
  );
  assertEquals(answer.id, null, "a fenced-out leader acknowledged a submit");
  await a.proc.waitFor(/lost the leadership/, 30_000, from);
  // Its lock was still held: it leads again, with a new epoch, and nothing was written.
  await a.proc.waitFor(/leading: took the leadership epoch=3/, 30_000, from);
  await a.proc.waitFor(/conductor ready/, 30_000, from);
  assertEquals(await pg.psql(db, "SELECT count(*) FROM jobs"), "0");
});
