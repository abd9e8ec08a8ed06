/**
 * The one-job page of the dashboard in a real browser (see
 * `_helpers/browser.ts`): a job's tasks, a task's live output, attempts and
 * response, paging through many tasks, and cancel behind the grants.
 */

import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { join } from "node:path";
import {
  newPage,
  openBrowser,
  type Page,
  shot,
  SHOWN_TIME,
  timeCell,
} from "../_helpers/browser.ts";
import { Cluster, OPEN_GRANTS } from "../_helpers/cluster.ts";
import { ROOT, tempDir, until } from "../_helpers/proc.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");

/**
 * A score that prints a line, then another when the file GO exists, then
 * ends when the file UNTIL (or UNTIL.PLAYER, for one player's task) exists; its stdout's `key=value` lines are its
 * response. The test says when each line is printed.
 */
const STEP = `#!/bin/sh
echo "phase=started"
echo "waiting for go" >&2
i=0
while [ ! -e "$ORC_GO" ] && [ "$i" -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
echo "after_go=$ORC_WORD"
echo "went on" >&2
i=0
while [ ! -e "$ORC_UNTIL" ] && [ ! -e "$ORC_UNTIL.$ORCH_PLAYER" ] && [ "$i" -lt 1200 ]; do
  sleep 0.1
  i=$((i + 1))
done
[ -e "$ORC_UNTIL" ] || [ -e "$ORC_UNTIL.$ORCH_PLAYER" ]
`;
const STEP_CONF = `description: Prints a line, another once GO exists, and ends once UNTIL exists.
interface: pipe
params:
  GO: { type: string, required: true }
  UNTIL: { type: string, required: true }
  WORD: { type: string }
  TOKEN: { type: string, secret: true }
`;

/** An expression true when `sel`'s text is `text`. */
function textIs(sel: string, text: string): string {
  return `document.querySelector(${JSON.stringify(sel)})?.textContent === ${JSON.stringify(text)}`;
}

/** An expression true when `sel`'s text holds `text`. */
function textHas(sel: string, text: string): string {
  return `(document.querySelector(${JSON.stringify(sel)})?.textContent ?? "").includes(${
    JSON.stringify(text)
  })`;
}

/** The cells of the task row whose host is `host`. */
function taskRow(page: Page, host: string): Promise<string[]> {
  return page.$$eval(
    "#tasks tbody tr",
    (trs, h) =>
      trs.filter((tr) => tr.querySelector("button")?.textContent === h)
        .flatMap((tr) => [...tr.children].map((td) => td.textContent ?? "")),
    host,
  );
}

/** An expression true when the row of `host` has the state `state`. */
function rowState(host: string, state: string): string {
  return `[...document.querySelectorAll("#tasks tbody tr")].some((tr) =>
    tr.querySelector("button")?.textContent === ${JSON.stringify(host)} &&
    tr.querySelector("td.state")?.textContent === ${JSON.stringify(state)})`;
}

const LIVE = textIs("#live", "live");

/** An expression giving the host of the task row holding the keyboard's focus, or null. */
const FOCUSED_ROW =
  `document.activeElement?.closest("#tasks tbody tr")?.querySelector("button")?.textContent ?? null`;

/** A task's duration as the page prints it. */
const SHOWN_DURATION = /^(\d+ ms|\d+\.\d s|(\d+ h )?\d+ min \d+ s)$/;

/** Is the element `id` hidden? */
function hidden(page: Page, id: string): Promise<boolean> {
  return page.evaluate(`document.getElementById(${JSON.stringify(id)}).hidden`) as Promise<boolean>;
}

Deno.test("the job page follows a task's output live, shows its attempts and response, and its row turns to succeeded", async () => {
  await using scores = await tempDir();
  await Deno.writeTextFile(join(scores.path, "step"), STEP, { mode: 0o755 });
  await Deno.writeTextFile(join(scores.path, "step.conf"), STEP_CONF);
  await using c = await Cluster.create({ players: ["web1", "web2"], scoresDir: scores.path });
  await Deno.writeTextFile(c.playersFile, "web1 role=web\nweb2 role=web\n");
  await c.startConductor();
  for (const p of ["web1", "web2"]) await c.startPlayer(p);
  const go = join(c.dir, "go");
  const release = join(c.dir, "release");
  const alice = await c.httpsClient("alice");
  const id = await alice.submit({
    score: "step",
    scope: "all",
    targets: ["role=web"],
    params: { GO: go, UNTIL: release, WORD: "hello", TOKEN: "s3cr3t-value" },
  });
  await until(
    `job ${id} running on both`,
    async () => (await c.client.job(id)).counts.running === 2,
  );
  await using browser = await openBrowser(c);
  const { page, problems } = await newPage(browser);
  // The job's event streams the page opens, in order (their output filters are checked below).
  const streams: string[] = [];
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (u.pathname === `/v1/jobs/${id}/events`) streams.push(u.searchParams.get("output") ?? "all");
  });
  // Reached from the jobs page: the job's id is a link.
  await page.goto(`https://localhost:${c.audiencePort}/ui/jobs`);
  // A locator, not page.click: the row may be drawn anew between finding and clicking it.
  await Promise.all([
    page.waitForNavigation(),
    page.locator(`#jobs tr[data-job="${id}"] th a`).click(),
  ]);
  assertEquals(new URL(page.url()).pathname, "/ui/job");
  assertEquals(new URL(page.url()).searchParams.get("id"), String(id));
  await page.waitForFunction(LIVE);
  await page.waitForFunction(textIs("#title", `Job #${id}`));
  assertEquals(await page.$eval("#score", (e) => e.textContent), "step");
  // What was asked for, as submitted, and apart from it the hosts it chose.
  assertEquals(await page.$eval("#targets", (e) => e.textContent), "role=web");
  assertEquals(await page.$eval("#hosts", (e) => e.textContent), "2 hosts: web1, web2");
  // Who submitted it and when: the time the API sent, as the browser prints it.
  const submitted = await timeCell(page, "#submitted");
  const [by, at] = [
    submitted.text.slice(0, submitted.text.indexOf(", ")),
    submitted.text.slice(submitted.text.indexOf(", ") + 2),
  ];
  assertEquals(by, "audience:alice");
  assertMatch(at, SHOWN_TIME);
  assertEquals(submitted.title, (await c.client.job(id)).submitted_at);
  assertEquals(at, submitted.printed);
  const params = await page.$eval("#params", (e) => e.textContent ?? "");
  // A secret stays masked as the conductor gives it.
  assert(params.includes("TOKEN=[secret]"), params);
  assert(!params.includes("s3cr3t"), params);
  await page.waitForFunction(
    textIs("#progress .bar-text", "0 of 2 done · 2 running · 0 queued · 0 offline"),
  );
  await page.waitForFunction(textIs("#summary", "2 tasks, page 1 of 1"));
  assertEquals((await taskRow(page, "web1")).slice(0, 3), ["web1", "running", "1"]);
  // Alice may cancel: the button is there.
  assertEquals(await hidden(page, "cancel"), false);

  // Choose web1 with the keyboard: its detail opens, with what it printed so far.
  // Focused in one step in the page (page.focus finds, then focuses: a redraw may come between).
  await page.evaluate(`document.querySelector("#tasks tbody tr:first-child button").focus()`);
  await page.keyboard.press("Enter");
  await page.waitForFunction(textHas("#detail-title", "on web1"));
  const chosen = new URL(page.url()).searchParams.get("task");
  assert(chosen !== null);
  // No task chosen: the stream carries no output; one chosen: that task's only.
  assertEquals(streams[0], "none");
  await until("the stream reopened for the chosen task", () => streams.at(-1) === chosen);
  await page.waitForFunction(textHas("#stdout", "phase=started"));
  await page.waitForFunction(textHas("#stderr", "waiting for go"));
  assertEquals(
    await page.$$eval("#attempts tbody tr", (trs) => trs.map((tr) => tr.children[1].textContent)),
    ["web1"],
  );
  // A line printed only now, after the page opened, appears live.
  await Deno.writeTextFile(go, "");
  await page.waitForFunction(textHas("#stdout", "after_go=hello"));
  await page.waitForFunction(textHas("#stderr", "went on"));
  // The screenshot shows the whole page (header, rows and output) at the laptop's width.
  await page.setViewport({ width: 1280, height: 1100 });
  await page.evaluate(`scrollTo(0, 0)`);
  await shot(page, c, "job.png");
  await page.setViewport({ width: 1280, height: 720 });

  // web1's task ends while the job runs on: its row turns to succeeded from its task event.
  await Deno.writeTextFile(`${release}.web1`, "");
  await page.waitForFunction(rowState("web1", "succeeded"));
  // The rows were drawn anew, and the keyboard's focus stayed on web1's.
  assertEquals(await page.evaluate(FOCUSED_ROW), "web1");
  assertEquals(await page.$eval("#live", (e) => e.textContent), "live");
  assertEquals((await taskRow(page, "web2"))[1], "running");
  await page.waitForFunction(
    textIs("#progress .bar-text", "1 of 2 done · 1 running · 0 queued · 0 offline"),
  );
  // The job ends: the detail shows the response.
  await Deno.writeTextFile(release, "");
  await page.waitForFunction(rowState("web2", "succeeded"));
  await page.waitForFunction(
    `[...document.querySelectorAll("#response tbody tr")].map((tr) => tr.textContent).join(" ")
      === "phasestarted after_gohello"`,
  );
  assertEquals(await hidden(page, "no-response"), true);
  await page.waitForFunction(textHas("#stdout", "after_go=hello"));
  await page.waitForFunction(textHas("#aggregate", "success"));
  await page.waitForFunction(
    textIs("#progress .bar-text", "2 of 2 done · 0 running · 0 queued · 0 offline"),
  );
  await page.waitForFunction(textIs("#live", "finished"));
  assertEquals(await hidden(page, "cancel"), true);
  const ended = await taskRow(page, "web1");
  assertEquals(ended[3], "exit 0");
  // Started, Finished and Duration of a task that ended: real times, a real duration.
  assertMatch(ended[4], SHOWN_TIME);
  assertMatch(ended[5], SHOWN_TIME);
  assertMatch(ended[6], SHOWN_DURATION);
  // The chosen task's attempt: started and ended, as real times.
  const attempt = await page.$$eval(
    "#attempts tbody tr",
    (trs) => [...trs[0].children].map((td) => td.textContent ?? ""),
  );
  assertMatch(attempt[2], SHOWN_TIME);
  assertMatch(attempt[3], SHOWN_TIME);

  // A reload of the address shows the chosen task again.
  await page.reload();
  await page.waitForFunction(textHas("#detail-title", "on web1"));
  await page.waitForFunction(textHas("#stdout", "after_go=hello"));

  // What is wrong with the address is named.
  await page.goto(`https://localhost:${c.audiencePort}/ui/job?id=abc`);
  await page.waitForFunction(`!document.getElementById("error").hidden`);
  let error = await page.$eval("#error", (e) => e.textContent ?? "");
  assert(error.includes(`id "abc" is not a job id`), error);
  await page.goto(`https://localhost:${c.audiencePort}/ui/job?id=9999`);
  await page.waitForFunction(`!document.getElementById("error").hidden`);
  error = await page.$eval("#error", (e) => e.textContent ?? "");
  assertEquals(error, "no job 9999");
  // A bad filter is named by the conductor.
  await page.goto(
    `https://localhost:${c.audiencePort}/ui/job?id=${id}&host=${encodeURIComponent("no such")}`,
  );
  await page.waitForFunction(`!document.getElementById("error").hidden`);
  error = await page.$eval("#error", (e) => e.textContent ?? "");
  assert(error.includes("host"), error);
  assertEquals(await problems(), []);
});

/** Is the cancel dialog open? */
function dialogOpen(page: Page): Promise<boolean> {
  return page.evaluate(`document.getElementById("cancel-dialog").open`) as Promise<boolean>;
}

Deno.test("the job page cancels a running job after a confirmation, and Keep running changes nothing", async () => {
  await using c = await Cluster.create({ players: ["web1"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("web1");
  const id = await c.submitRunning({
    score: "holdon",
    scope: "all",
    targets: ["web1"],
    params: { UNTIL: join(c.dir, "never") },
  });
  await using browser = await openBrowser(c);
  const { page, problems } = await newPage(browser);
  await page.goto(`https://localhost:${c.audiencePort}/ui/job?id=${id}`);
  await page.waitForFunction(LIVE);
  await page.waitForFunction(rowState("web1", "running"));
  await page.waitForFunction(`!document.getElementById("cancel").hidden`);

  // Keep running: the dialog closes, nothing is cancelled.
  await page.click("#cancel");
  assertEquals(await dialogOpen(page), true);
  // The harmless choice has the focus: Enter keeps the job running.
  assertEquals(await page.evaluate(`document.activeElement?.id`), "keep-running");
  const text = await page.$eval("#cancel-text", (e) => e.textContent ?? "");
  assert(text.includes(`#${id}`) && text.includes("holdon") && text.includes("1 of its 1"), text);
  await page.click("#keep-running");
  assertEquals(await dialogOpen(page), false);
  let job = await c.client.job(id);
  assertEquals([job.cancelled_at, job.aggregate], [null, "running"]);

  // Confirmed: the job ends cancelled, and the page shows it live.
  await page.click("#cancel");
  await page.click("#confirm-cancel");
  await page.waitForFunction(
    textHas("#cancel-result", "Cancelled: 0 queued tasks will not run, 1"),
  );
  const done = await c.wait(id);
  assert(done.cancelled_at !== null);
  assertEquals(done.tasks[0].state, "cancelled");
  await page.waitForFunction(rowState("web1", "cancelled"));
  await page.waitForFunction(`document.getElementById("cancel").hidden`);
  job = await c.client.job(id);
  assertEquals(job.counts, { cancelled: 1 });
  assertEquals(await problems(), []);
});

Deno.test("a user without the cancel grant sees no cancel button, and the API refuses his cancel from the page", async () => {
  await using c = await Cluster.create({
    players: ["web1"],
    scoresDir: TESTDATA,
    grants: OPEN_GRANTS + "  - who: audience:bob\n    may: [read_all]\n",
  });
  await c.orchOk(["ca", "issue", "bob", "--role", "audience", "--ca-dir", c.caDir]);
  await c.startConductor();
  await c.startPlayer("web1");
  const release = join(c.dir, "release");
  const id = await c.submitRunning({
    score: "holdon",
    scope: "all",
    targets: ["web1"],
    params: { UNTIL: release },
  });
  await using browser = await openBrowser(c, "bob");
  const { page, problems } = await newPage(browser);
  await page.goto(`https://localhost:${c.audiencePort}/ui/job?id=${id}`);
  await page.waitForFunction(LIVE);
  await page.waitForFunction(rowState("web1", "running"));
  assertEquals(await hidden(page, "cancel"), true);
  const view = await page.evaluate(async (url) => (await fetch(url)).json(), `/v1/jobs/${id}`);
  assertEquals(view.may_cancel, false);

  // Sent anyway, from the page: 403, and the job runs on.
  const refused = await page.evaluate(async (url) => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    return { status: res.status, body: await res.json() };
  }, `/v1/jobs/${id}/cancel`);
  assertEquals(refused.status, 403);
  assertEquals(refused.body.error.code, "forbidden");
  const job = await c.client.job(id);
  assertEquals([job.cancelled_at, job.aggregate, job.counts], [null, "running", { running: 1 }]);
  assertEquals((await c.client.job(id)).may_cancel, true); // local:root may
  await Deno.writeTextFile(release, "");
  assertEquals((await c.wait(id)).aggregate, "success");
  assertEquals(await problems(), []);
});

Deno.test("the job page pages through many tasks, with a state filter kept in the address", async () => {
  const names = Array.from({ length: 120 }, (_, i) => `host${String(i + 1).padStart(3, "0")}`);
  await using c = await Cluster.create({
    players: ["p1"],
    listed: ["p1", ...names],
    scoresDir: TESTDATA,
  });
  await c.startConductor();
  // p1 announces the score; the hosts are listed but never started, so their tasks stay queued.
  await c.startPlayer("p1");
  const id = await c.client.submit({
    score: "holdon",
    scope: "all",
    targets: ["host*"],
    params: { UNTIL: join(c.dir, "never") },
  });
  await using browser = await openBrowser(c);
  const { page, problems } = await newPage(browser);
  await page.goto(`https://localhost:${c.audiencePort}/ui/job?id=${id}`);
  await page.waitForFunction(textIs("#summary", "120 tasks, page 1 of 3"));
  assertEquals(await page.$eval("#targets", (e) => e.textContent), "host*");
  assertEquals(
    await page.$eval("#hosts", (e) => e.textContent),
    "120 hosts: " + names.slice(0, 10).join(", ") + ", …",
  );
  const hosts = () =>
    page.$$eval("#tasks tbody tr button", (bs) => bs.map((b) => b.textContent ?? ""));
  let shown = await hosts();
  assertEquals([shown.length, shown[0], shown[49]], [50, "host001", "host050"]);
  assertEquals(await hidden(page, "prev"), true);
  await page.click("#next");
  await page.waitForFunction(textIs("#summary", "120 tasks, page 2 of 3"));
  shown = await hosts();
  assertEquals([shown.length, shown[0]], [50, "host051"]);
  assertEquals(new URL(page.url()).searchParams.get("page"), "2");
  await page.click("#next");
  await page.waitForFunction(textIs("#summary", "120 tasks, page 3 of 3"));
  assertEquals((await hosts()).length, 20);
  assertEquals(await hidden(page, "next"), true);
  await page.click("#prev");
  await page.waitForFunction(textIs("#summary", "120 tasks, page 2 of 3"));

  // Filtered by state and host, server-side; the filter is kept in the address.
  await page.select("#state", "running");
  await page.click("#filter button");
  await page.waitForFunction(textIs("#summary", "0 tasks (running), page 1 of 1"));
  assertEquals(new URL(page.url()).searchParams.get("state"), "running");
  await page.select("#state", "queued");
  await page.type("#host", "host077");
  await page.click("#filter button");
  await page.waitForFunction(textIs("#summary", "1 tasks (queued, on host077), page 1 of 1"));
  assertEquals(await hosts(), ["host077"]);
  await page.reload();
  await page.waitForFunction(textIs("#summary", "1 tasks (queued, on host077), page 1 of 1"));
  assertEquals(await page.evaluate(`document.getElementById("state").value`), "queued");
  assertEquals(await problems(), []);
});

Deno.test("what a score prints and responds reaches the job page as text, never as HTML", async () => {
  await using c = await Cluster.create({ players: ["web1"], scoresDir: TESTDATA });
  await c.startConductor();
  await c.startPlayer("web1");
  const evil = `<img src=x onerror="document.title='pwned'">`;
  const id = await c.client.submit({
    score: "sayafter",
    scope: "one",
    targets: ["web*"],
    params: { WHO: evil },
  });
  assertEquals((await c.wait(id)).aggregate, "success");
  await using browser = await openBrowser(c);
  const { page, problems } = await newPage(browser);
  await page.goto(`https://localhost:${c.audiencePort}/ui/job?id=${id}`);
  await page.waitForFunction(rowState("web1", "succeeded"));
  // A locator, not page.click: the rows are drawn anew as the job's end arrives.
  await page.locator(`#tasks tbody tr:first-child button`).click();
  await page.waitForFunction(textHas("#stdout", `who=${evil}`));
  // The response value, the output line and the parameter, each as literal text.
  assertEquals(
    await page.$$eval("#response tbody tr", (trs) => trs.map((tr) => tr.children[1].textContent)),
    [evil],
  );
  assert((await page.$eval("#params", (e) => e.textContent ?? "")).includes(`WHO=${evil}`));
  assertEquals(await page.evaluate(`document.querySelectorAll("img").length`), 0);
  assertEquals(await page.title(), `orch — job #${id}`);
  // A one-of job: the expression asked, and that it runs on one of the hosts it chose.
  assertEquals(await page.$eval("#targets", (e) => e.textContent), "web*");
  assertEquals(await page.$eval("#hosts", (e) => e.textContent), "runs on one of 1 host: web1");
  assertEquals(await problems(), []);
});
