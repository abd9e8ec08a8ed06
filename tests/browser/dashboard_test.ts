/**
 * The fleet and jobs pages of the dashboard in a real browser (see
 * `_helpers/browser.ts`): headless Chromium opens the conductor's HTTPS
 * port and presents an audience certificate.
 */

import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { join } from "node:path";
import {
  newPage,
  openBrowser,
  type Page,
  SENT_TIME,
  shot,
  SHOWN_TIME,
  timeCell,
} from "../_helpers/browser.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { ROOT, until } from "../_helpers/proc.ts";

const PLAYERS = ["web1", "web2", "db1"];
const TESTDATA = join(ROOT, "tests/testdata/scores");
/** Rows in the fleet table, as an expression the page evaluates. */
const ROWS = `document.querySelectorAll("#players tbody tr").length`;

/** The selector of player `name`'s Last heartbeat cell. */
function heartbeatCell(name: string): string {
  return `#players tr[data-player="${name}"] > :nth-child(5)`;
}

/** Asserts player `name`'s Last heartbeat is a time the API sent, as the browser prints it. */
async function assertHeartbeat(page: Page, name: string): Promise<void> {
  const t = await timeCell(page, heartbeatCell(name));
  assertMatch(t.text, SHOWN_TIME, name);
  assertMatch(t.title, SENT_TIME, name);
  assertEquals(t.text, t.printed, name);
}

/** The rows of the fleet table: name → the texts of its cells. */
function rows(page: Page): Promise<Record<string, string[]>> {
  return page.$$eval("#players tbody tr", (trs) =>
    Object.fromEntries(
      trs.map((tr) => [
        tr.getAttribute("data-player") ?? "",
        [...tr.children].map((td) => td.textContent ?? ""),
      ]),
    ));
}

Deno.test("the fleet page shows three real players over mTLS, and live when one goes away", async () => {
  await using c = await Cluster.create({ players: PLAYERS });
  await Deno.writeTextFile(
    c.playersFile,
    "web1 role=web dc=syd\nweb2 role=web dc=mel\ndb1 role=db dc=syd\n",
  );
  await c.startConductor();
  for (const p of PLAYERS) await c.startPlayer(p);
  await using browser = await openBrowser(c);
  {
    const { page, problems, checked } = await newPage(browser);
    const res = await page.goto(`https://localhost:${c.audiencePort}/`);
    assertEquals(res?.status(), 200);
    assert(res?.headers()["content-security-policy"]?.includes("script-src 'self'"));

    await page.waitForFunction(ROWS + " === 3");
    await page.waitForFunction(`document.getElementById("live").textContent === "live"`);
    let r = await rows(page);
    assertEquals(Object.keys(r).sort(), ["db1", "web1", "web2"]);
    for (const p of PLAYERS) assertEquals(r[p][1], "connected");
    assertEquals(r.web1[2], "role=webdc=syd");
    assert(/^0 of \d+$/.test(r.web1[3]), r.web1[3]);
    assertEquals(r.db1[5], "0.1.0");
    for (const p of PLAYERS) await assertHeartbeat(page, p);
    await shot(page, c, "fleet.png");

    // Filter by the target syntax, server-side.
    await page.type("#target", "role=web");
    await page.keyboard.press("Enter");
    await page.waitForFunction(ROWS + " === 2");
    assertEquals(Object.keys(await rows(page)).sort(), ["web1", "web2"]);

    // A bad expression is named, and the table is kept.
    await page.click("#target", { count: 3 });
    await page.type("#target", "role==x");
    await page.keyboard.press("Enter");
    await page.waitForFunction(`!document.getElementById("error").hidden`);
    const error = await page.$eval("#error", (e) => e.textContent ?? "");
    assert(error.includes("target"), error);

    await page.click("#target", { count: 3 });
    await page.keyboard.press("Backspace");
    await page.keyboard.press("Enter");
    await page.waitForFunction(ROWS + " === 3");

    // Live: the event stream tells the page, which asks again; nothing polls.
    await c.players.get("web2")!.stop();
    await page.waitForFunction(
      `document.querySelector('#players tr[data-player="web2"] td')?.textContent === "disconnected"`,
    );
    r = await rows(page);
    assertEquals(r.web1[1], "connected");
    // A player gone: when it was last heard.
    await assertHeartbeat(page, "web2");
    await shot(page, c, "fleet-disconnected.png");
    assertEquals(await problems(), []);
    // The answers the page got were checked against the description (none broke it, above).
    assert(
      checked.some((a) => a.startsWith("GET /v1/players?target=role%3Dweb 200")),
      checked.join(),
    );
    assert(
      checked.some((a) => a.startsWith("GET /v1/players?target=role%3D%3Dx 400")),
      checked.join(),
    );
  }
});

/** The rows of the jobs table: job id → the texts of its cells. */
function jobRows(page: Page): Promise<Record<string, string[]>> {
  return page.$$eval("#jobs tbody tr", (trs) =>
    Object.fromEntries(
      trs.map((tr) => [
        tr.getAttribute("data-job") ?? "",
        [...tr.children].map((td) => td.textContent ?? ""),
      ]),
    ));
}

/** The job ids of the jobs table, top to bottom. */
function jobOrder(page: Page): Promise<string[]> {
  return page.$$eval("#jobs tbody tr", (trs) => trs.map((tr) => tr.getAttribute("data-job") ?? ""));
}

/** An expression true when job `id`'s row has `sel`'s text equal to `text`. */
function jobCell(id: number, sel: string, text: string): string {
  return `document.querySelector('#jobs tr[data-job="${id}"] ${sel}')?.textContent === ${
    JSON.stringify(text)
  }`;
}

Deno.test("the jobs page lists jobs newest first, pages, filters, and follows a job live to success", async () => {
  await using c = await Cluster.create({
    players: ["web1", "web2", "away1"],
    scoresDir: TESTDATA,
  });
  await c.startConductor();
  for (const p of ["web1", "web2"]) await c.startPlayer(p);
  const release = join(c.dir, "release");
  // A job that finishes at once: its file exists already.
  const done = await (await c.httpsClient("alice")).submit({
    score: "holdon",
    scope: "all",
    targets: ["web1"],
    params: { UNTIL: c.playersFile },
  });
  await c.wait(done);
  await using browser = await openBrowser(c);
  {
    const { page, problems } = await newPage(browser);
    // Reached from the fleet page's navigation.
    const res = await page.goto(`https://localhost:${c.audiencePort}/`);
    assertEquals(res?.status(), 200);
    await Promise.all([page.waitForNavigation(), page.click('nav a[href="/ui/jobs"]')]);
    assertEquals(new URL(page.url()).pathname, "/ui/jobs");
    await page.waitForFunction(`document.getElementById("live").textContent === "live"`);
    await page.waitForFunction(jobCell(done, "td.aggregate", "success"));
    let r = await jobRows(page);
    assertEquals(r[String(done)].slice(0, 5), [
      `#${done}`,
      "holdon",
      "all of",
      "1",
      "audience:alice",
    ]);
    assertEquals(r[String(done)][7], "1 of 1 done · 0 running · 0 queued · 0 offline");
    // Submitted: the time the API sent, as the browser prints it.
    const submitted = await timeCell(page, `#jobs tr[data-job="${done}"] > :nth-child(6)`);
    assertMatch(submitted.text, SHOWN_TIME);
    assertEquals(submitted.title, (await c.client.job(done)).submitted_at);
    assertEquals(submitted.text, submitted.printed);

    // A job submitted while the page is open appears, running on both players; the list is
    // drawn anew, and a keyboard user's focus stays on the link it was on.
    // Focused in one step in the page (page.focus finds, then focuses: a redraw may come between).
    await page.evaluate(`document.querySelector('#jobs tr[data-job="${done}"] th a').focus()`);
    const id = await c.client.submit({
      score: "holdon",
      scope: "all",
      targets: ["web1", "web2"],
      params: { UNTIL: release },
    });
    await page.waitForFunction(
      jobCell(id, "td.progress .bar-text", "0 of 2 done · 2 running · 0 queued · 0 offline"),
    );
    r = await jobRows(page);
    // Newest first (an object's integer keys would sort, so the order is read on its own).
    assertEquals(await jobOrder(page), [String(id), String(done)]);
    assertEquals(
      await page.evaluate(`document.activeElement?.closest("#jobs tbody tr")?.dataset.job ?? null`),
      String(done),
    );
    assertEquals(r[String(id)][6], "running");
    assertEquals(
      await page.$$eval(`#jobs tr[data-job="${id}"] .bar .seg`, (s) => s.map((e) => e.className)),
      ["seg seg-running"],
    );
    await shot(page, c, "jobs.png");

    // Let it finish: the row turns to success from the event stream.
    await Deno.writeTextFile(release, "");
    await page.waitForFunction(jobCell(id, "td.aggregate", "success"));
    await page.waitForFunction(
      jobCell(id, "td.progress .bar-text", "2 of 2 done · 0 running · 0 queued · 0 offline"),
    );

    // Paged: one a page, the older link shows the job before.
    await page.goto(`https://localhost:${c.audiencePort}/ui/jobs?limit=1`);
    await page.waitForFunction(`document.querySelector("#jobs tbody tr")?.dataset.job === "${id}"`);
    await Promise.all([page.waitForNavigation(), page.click("#older")]);
    assertEquals(new URL(page.url()).searchParams.get("before"), String(id));
    await page.waitForFunction(
      `document.querySelector("#jobs tbody tr")?.dataset.job === "${done}"`,
    );

    // Filtered by submitter and state, server-side; the filter is kept in the address.
    await page.goto(`https://localhost:${c.audiencePort}/ui/jobs`);
    await page.waitForFunction(`document.querySelectorAll("#jobs tbody tr").length === 2`);
    await page.type("#submitted_by", "audience:alice");
    await page.select("#state", "success");
    await Promise.all([page.waitForNavigation(), page.click("#filter button")]);
    assertEquals(new URL(page.url()).searchParams.get("submitted_by"), "audience:alice");
    await page.waitForFunction(`document.querySelectorAll("#jobs tbody tr").length === 1`);
    assertEquals(await jobOrder(page), [String(done)]);
    assertEquals(await page.evaluate(`document.getElementById("state").value`), "success");

    // A bad filter is named.
    await page.goto(
      `https://localhost:${c.audiencePort}/ui/jobs?score=${encodeURIComponent("no such/score")}`,
    );
    await page.waitForFunction(`!document.getElementById("error").hidden`);
    const error = await page.$eval("#error", (e) => e.textContent ?? "");
    assert(error.includes("score"), error);

    // A job for a listed player that never connected: offline from the list, at load.
    const away = await c.client.submit({
      score: "holdon",
      scope: "all",
      targets: ["web1", "away1"],
      params: { UNTIL: c.playersFile },
    });
    await until("the connected half ran", async () => (await c.job(away)).counts.succeeded === 1);
    await page.goto(`https://localhost:${c.audiencePort}/ui/jobs?limit=1`);
    await page.waitForFunction(
      jobCell(away, "td.progress .bar-text", "1 of 2 done · 0 running · 0 queued · 1 offline"),
    );
    assertEquals(
      await page.$$eval(`#jobs tr[data-job="${away}"] .bar .seg`, (s) => s.map((e) => e.className)),
      ["seg seg-done", "seg seg-offline"],
    );
    assertEquals(await problems(), []);
  }
});

Deno.test("the fleet page of 500 listed players draws 200 a page with a pager and the counts", async () => {
  await using c = await Cluster.create({ players: ["web1"] });
  const names = Array.from({ length: 500 }, (_, i) => `h${String(i).padStart(3, "0")}`);
  await c.writePlayersFile(["web1", ...names.slice(1)]);
  await c.startConductor();
  await c.startPlayer("web1");
  assertEquals((await c.cli(["drain", "web1"])).code, 0);
  await using browser = await openBrowser(c);
  const { page, problems } = await newPage(browser);
  await page.goto(`https://localhost:${c.audiencePort}/`);
  await page.waitForFunction(ROWS + " === 200");
  const text = (id: string) => page.$eval(`#${id}`, (e) => e.textContent ?? "");
  const disabled = (id: string) => page.$eval(`#${id}`, (e) => e.hasAttribute("disabled"));
  await page.waitForFunction(
    `document.getElementById("summary").textContent === "500 players, 1 connected, 1 drained"`,
  );
  assertEquals(await text("page-info"), "Page 1 of 3 (players 1–200)");
  assertEquals([await disabled("prev"), await disabled("next")], [true, false]);
  await page.click("#next");
  await page.waitForFunction(
    `document.getElementById("page-info").textContent.startsWith("Page 2")`,
  );
  assertEquals(await text("page-info"), "Page 2 of 3 (players 201–400)");
  await page.click("#next");
  await page.waitForFunction(ROWS + " === 100");
  assertEquals(await text("page-info"), "Page 3 of 3 (players 401–500)");
  assertEquals([await disabled("prev"), await disabled("next")], [false, true]);
  const shown = Object.keys(await rows(page));
  assertEquals(shown.length, 100);
  // Sorted by name: the last page ends with the one player whose name is not h….
  assertEquals([shown[0], shown.at(-1)], ["h401", "web1"]);
  await page.click("#prev");
  await page.waitForFunction(ROWS + " === 200");
  assertEquals(await text("page-info"), "Page 2 of 3 (players 201–400)");
  // Listed but never seen: no time to show.
  assertEquals((await timeCell(page, heartbeatCell("h201"))).text, "never");
  await shot(page, c, "fleet-paged.png");
  assertEquals(await problems(), []);
});

Deno.test("the fleet page's slots in use follow a task taking and freeing a slot, without a reload of the page", async () => {
  await using c = await Cluster.create({ players: ["web1", "web2"], scoresDir: TESTDATA });
  await c.startConductor();
  for (const p of ["web1", "web2"]) await c.startPlayer(p);
  const slots = (await c.client.players()).find((p) => p.name === "web1")!.slots;
  assert(slots > 1, String(slots));
  await using browser = await openBrowser(c);
  const { page, problems } = await newPage(browser);
  await page.goto(`https://localhost:${c.audiencePort}/`);
  await page.waitForFunction(ROWS + " === 2");
  await page.waitForFunction(`document.getElementById("live").textContent === "live"`);
  const slotsOf = (name: string) => `#players tr[data-player="${name}"] > :nth-child(4)`;
  const slotsAre = (name: string, text: string) =>
    `document.querySelector(${JSON.stringify(slotsOf(name))})?.textContent === ${
      JSON.stringify(text)
    }`;
  assertEquals(await page.$eval(slotsOf("web1"), (e) => e.textContent), `0 of ${slots}`);
  // Set in this document only: a reload of the page would lose it.
  await page.evaluate(`document.body.dataset.sameDocument = "yes"`);

  // A task holds one of web1's slots until its file exists: no player comes or goes meanwhile.
  const release = join(c.dir, "release");
  const id = await c.client.submit({
    score: "holdon",
    scope: "all",
    targets: ["web1"],
    params: { UNTIL: release },
  });
  await page.waitForFunction(slotsAre("web1", `1 of ${slots}`));
  assertEquals(await page.$eval(slotsOf("web2"), (e) => e.textContent), `0 of ${slots}`);
  await assertHeartbeat(page, "web1");

  await Deno.writeTextFile(release, "");
  assertEquals((await c.wait(id)).aggregate, "success");
  await page.waitForFunction(slotsAre("web1", `0 of ${slots}`));
  assertEquals(await page.evaluate(`document.body.dataset.sameDocument`), "yes");
  assertEquals(await problems(), []);
});
