/**
 * The submit and audit pages of the dashboard in a real browser (see
 * `_helpers/browser.ts`): a job submitted from the page runs on real
 * players; the audit page lists what was done and refused; a user whose
 * grants give neither verb sees neither page in the header and is refused
 * by the API when it tries anyway.
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
import { ROOT } from "../_helpers/proc.ts";
import type { AuditRecordJson } from "../../lib/protocol/mod.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");
const GRANTS = `grants:
  - who: [audience:alice, local:root]
    may: [all]
  - who: audience:bob
    may: [read_all]
`;
/** True once the header knows who the caller is (GET /v1/me answered). */
const SETTLED = `document.documentElement.dataset.caller !== undefined`;

/** Whether the header shows the link to `path`. */
function navShows(page: Page, path: string): Promise<boolean> {
  return page.evaluate(`!document.querySelector('nav a[href="${path}"]').hidden`) as Promise<
    boolean
  >;
}

/** The text of the element `sel`. */
function text(page: Page, sel: string): Promise<string> {
  return page.$eval(sel, (e) => e.textContent ?? "");
}

/** Clears the input `sel` and types `value` into it. */
async function retype(page: Page, sel: string, value: string): Promise<void> {
  await page.evaluate(`document.querySelector(${JSON.stringify(sel)}).value = ""`);
  await page.type(sel, value);
}

/** The rows of the audit table, top to bottom: record id and the texts of its cells. */
function auditRows(page: Page): Promise<{ id: string; cells: string[] }[]> {
  return page.$$eval("#audit tbody tr", (trs) =>
    trs.map((tr) => ({
      id: tr.getAttribute("data-record") ?? "",
      cells: [...tr.children].map((td) => td.textContent ?? ""),
    })));
}

Deno.test("a job submitted from the page runs on the real players with its parameter; a bad submit shows the conductor's message; the audit page lists both and pages", async () => {
  await using c = await Cluster.create({
    players: ["web1", "web2", "db1"],
    scoresDir: TESTDATA,
    grants: GRANTS,
  });
  await c.startConductor();
  for (const p of ["web1", "web2", "db1"]) await c.startPlayer(p);
  await using browser = await openBrowser(c);
  const { page, problems } = await newPage(browser);
  const base = `https://localhost:${c.audiencePort}`;

  // From the fleet page's header: alice may submit and read the audit trail.
  await page.goto(`${base}/`);
  await page.waitForFunction(SETTLED);
  assert(await navShows(page, "/ui/submit"));
  assert(await navShows(page, "/ui/audit"));
  await Promise.all([page.waitForNavigation(), page.click('nav a[href="/ui/submit"]')]);
  assertEquals(new URL(page.url()).pathname, "/ui/submit");

  // The scores offered are those the connected players announce.
  await page.waitForFunction(
    `[...document.querySelectorAll("#scores option")].some((o) => o.value === "sayafter")`,
  );
  await page.type("#score", "sayafter");
  await page.type("#targets", "web*");
  await page.click("#preview-button");
  await page.waitForFunction(`document.getElementById("preview").dataset.count === "2"`);
  assertEquals(await text(page, "#preview"), "2 players match (2 connected): web1, web2");

  // A parameter whose name looks secret gets a hidden value; removed again.
  await page.click("#add-param");
  await page.keyboard.type("API_TOKEN");
  assertEquals(
    await page.evaluate(`document.querySelector("#params .param-value").type`),
    "password",
  );
  await page.click("#params button.remove");
  assertEquals(await page.$$eval("#params tbody tr", (r) => r.length), 0);

  await page.click("#add-param");
  await page.keyboard.type("WHO");
  await page.type("#params .param-value", "from-the-page");
  assertEquals(
    await page.evaluate(`document.querySelector("#params .param-value").type`),
    "text",
  );
  await shot(page, c, "submit.png");

  await Promise.all([page.waitForNavigation(), page.click("#go")]);
  const landed = new URL(page.url());
  assertEquals(landed.pathname, "/ui/job");
  const id = Number(landed.searchParams.get("id"));
  assert(Number.isSafeInteger(id) && id > 0, page.url());
  const job = await c.wait(id);
  assertEquals(job.aggregate, "success");
  assertEquals(job.score, "sayafter");
  assertEquals(job.submitted_by, "audience:alice");
  assertEquals(job.tasks.map((t) => t.host).sort(), ["web1", "web2"]);
  for (const t of job.tasks) assertEquals(t.response, { who: "from-the-page" });

  // Bad submits: the conductor's message is shown as it is, and no job is made.
  await page.goto(`${base}/ui/submit`);
  await page.waitForSelector("#score");
  await page.type("#score", "sayafter");
  await page.type("#targets", "nosuch*");
  await page.click("#go");
  await page.waitForFunction(`!document.getElementById("error").hidden`);
  const noMatch = await text(page, "#error");
  assertEquals(noMatch, `target "nosuch*" matches no player in the players file`);
  await page.click("#add-param");
  await page.keyboard.type("bad-name");
  await page.type("#params .param-value", "x");
  await retype(page, "#targets", "web1");
  await page.click("#go");
  await page.waitForFunction(
    `document.getElementById("error").textContent !== ${JSON.stringify(noMatch)}`,
  );
  const badParam = await text(page, "#error");
  assertMatch(badParam, /params.*bad-name/);
  assertEquals((await c.client.jobs(100)).map((j) => j.id), [id]);
  assertEquals(page.url(), `${base}/ui/submit`);

  // The audit page: newest first, the allowed submit and the refused ones with their reasons.
  await page.goto(`${base}/`);
  await page.waitForFunction(SETTLED);
  await Promise.all([page.waitForNavigation(), page.click('nav a[href="/ui/audit"]')]);
  assertEquals(new URL(page.url()).pathname, "/ui/audit");
  await page.waitForFunction(`document.querySelectorAll("#audit tbody tr").length > 0`);
  const records = await c.client.audit({ limit: 1000 });
  let rows = await auditRows(page);
  assertEquals(rows.map((r) => r.id), records.map((r) => String(r.id)));
  // When: the time the API sent (kept as the title), as the browser prints it.
  for (const r of records.slice(0, 3)) {
    const at = await timeCell(page, `#audit tr[data-record="${r.id}"] > :first-child`);
    assertMatch(at.text, SHOWN_TIME);
    assertMatch(at.title, SENT_TIME);
    assertEquals(at.title, r.at);
    assertEquals(at.text, at.printed);
  }
  const submits = rows.filter((r) => r.cells[2] === "submit");
  assertEquals(submits.map((r) => [r.cells[1], r.cells[3]]), [
    ["audience:alice", "refused"],
    ["audience:alice", "refused"],
    ["audience:alice", "allowed"],
  ]);
  assert(
    submits[2].cells[4].startsWith(`#${id} score sayafter on web1, web2`),
    submits[2].cells[4],
  );
  assertEquals(submits[2].cells[5], "");
  assertEquals(submits[1].cells[5], noMatch);
  assertEquals(submits[0].cells[5], badParam);
  assertMatch(submits[0].cells[6], /^https 127\.0\.0\.1/);
  assertEquals(
    await page.$eval(
      `#audit tr[data-record="${
        records.find((r) => r.job_id === id && r.action === "submit")!.id
      }"] td a`,
      (a) => a.getAttribute("href"),
    ),
    `/ui/job?id=${id}`,
  );
  await shot(page, c, "audit.png");

  // Paged one at a time: "Older" goes to the record before, and the filter stays in the address.
  await page.goto(`${base}/ui/audit?who=audience%3Aalice&limit=1`);
  const alices = records.filter((r) => r.who === "audience:alice");
  await page.waitForFunction(
    `document.querySelector("#audit tbody tr")?.dataset.record === "${alices[0].id}"`,
  );
  assertEquals(await page.evaluate(`document.getElementById("who").value`), "audience:alice");
  await Promise.all([page.waitForNavigation(), page.click("#older")]);
  const older = new URL(page.url());
  assertEquals(older.searchParams.get("before"), String(alices[0].id));
  assertEquals(older.searchParams.get("who"), "audience:alice");
  await page.waitForFunction(
    `document.querySelector("#audit tbody tr")?.dataset.record === "${alices[1].id}"`,
  );
  rows = await auditRows(page);
  assertEquals(rows.length, 1);
  assertEquals(rows[0].cells[1], "audience:alice");

  // A filter typed in the form goes into the address; a bad one is named by the conductor.
  await retype(page, "#who", "no such one");
  await Promise.all([page.waitForNavigation(), page.click("#filter button[type=submit]")]);
  assertEquals(new URL(page.url()).searchParams.get("who"), "no such one");
  await page.waitForFunction(`!document.getElementById("error").hidden`);
  assertMatch(await text(page, "#error"), /who/);
  assertEquals(await problems(), []);
});

Deno.test("a user with read_all only sees neither Submit nor Audit, is shown the refusal on the audit page, and a submit from his page is refused 403", async () => {
  await using c = await Cluster.create({ players: ["web1"], scoresDir: TESTDATA, grants: GRANTS });
  await c.orchOk(["ca", "issue", "bob", "--role", "audience", "--ca-dir", c.caDir]);
  await c.startConductor();
  await c.startPlayer("web1");
  await using browser = await openBrowser(c, "bob");
  const { page, problems } = await newPage(browser);
  const base = `https://localhost:${c.audiencePort}`;

  for (const path of ["/", "/ui/jobs"]) {
    await page.goto(base + path);
    await page.waitForFunction(SETTLED);
    assertEquals(await page.evaluate(`document.documentElement.dataset.caller`), "audience:bob");
    assertEquals(await navShows(page, "/ui/submit"), false, path);
    assertEquals(await navShows(page, "/ui/audit"), false, path);
    assert(await navShows(page, "/ui/jobs"));
  }

  // The address typed by hand: the conductor's refusal, and no rows.
  await page.goto(`${base}/ui/audit`);
  await page.waitForFunction(`!document.getElementById("error").hidden`);
  assertMatch(
    await text(page, "#error"),
    /^audience:bob may not read the audit trail: no grant in .*grants\.yaml gives audience:bob audit/,
  );
  assertEquals(await page.$$eval("#audit tbody tr", (r) => r.length), 0);
  assertEquals(await navShows(page, "/ui/audit"), false);

  // The submit page says so too, and the API refuses what the page would send.
  await page.goto(`${base}/ui/submit`);
  await page.waitForFunction(`!document.getElementById("error").hidden`);
  assertMatch(await text(page, "#error"), /audience:bob may not submit/);
  const status = await page.evaluate(async () => {
    const res = await fetch("/v1/jobs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ score: "sayafter", scope: "all", targets: ["web1"] }),
    });
    return [res.status, (await res.json()).error.code];
  });
  assertEquals(status, [403, "forbidden"]);
  assertEquals(await c.client.jobs(100), []);
  const refused = (await c.client.audit({ limit: 100 })).filter((r: AuditRecordJson) =>
    r.who === "audience:bob"
  );
  assertEquals(refused.map((r) => [r.action, r.outcome]), [["submit", "refused"]]);
  assertEquals(await problems(), []);
});
