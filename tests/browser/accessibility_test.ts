/**
 * Every dashboard page checked for accessibility in a real browser: axe
 * (the axe-core engine, WCAG 2.x A and AA rules: labels, names, contrast,
 * structure) run on each page as a user sees it, with data in it; and the
 * pages used from the keyboard alone (skip link, header links, a task
 * chosen with Enter).
 */

import axe from "axe-core";
import { assert, assertEquals } from "../_helpers/assert.ts";
import { join } from "node:path";
import { newPage, openBrowser, type Page } from "../_helpers/browser.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { ROOT } from "../_helpers/proc.ts";

const TESTDATA = join(ROOT, "tests/testdata/scores");
/** The text of what has the keyboard focus, as an expression the page evaluates. */
const FOCUSED = `document.activeElement?.textContent ?? ""`;

/** One rule axe found broken: its id, its impact and where. */
interface Violation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * The WCAG 2.x A/AA violations axe finds on `page` as it is now. The
 * engine is added to the page through the browser's protocol, bypassing
 * the page's script policy for the test only (the policy's own test is in
 * dashboard_test.ts).
 */
async function audit(page: Page): Promise<Violation[]> {
  await page.addScriptTag({ content: axe.source });
  // Evaluated in the page, where axe is the global the added script defined.
  return await page.evaluate(`(async () => {
    const result = await axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => String(n.target)),
    }));
  })()`) as Violation[];
}

Deno.test("every dashboard page passes axe's WCAG 2.1 A and AA rules with data on it, and is usable from the keyboard", async () => {
  await using c = await Cluster.create({ players: ["web1", "web2"], scoresDir: TESTDATA });
  await Deno.writeTextFile(c.playersFile, "web1 role=web\nweb2 role=web\noffline1 role=db\n");
  await c.startConductor();
  for (const p of ["web1", "web2"]) await c.startPlayer(p);
  const alice = await c.httpsClient("alice");
  const done = await alice.submit({
    score: "sayafter",
    scope: "all",
    targets: ["web1", "web2"],
    params: { SLEEP: "0", WHO: "axe" },
  });
  assertEquals((await c.wait(done)).aggregate, "success");
  // One job still open, waiting for a host that is offline: the bar has every part.
  await alice.submit({
    score: "sayafter",
    scope: "all",
    targets: ["offline1"],
    params: { SLEEP: "0", WHO: "x" },
  });

  await using browser = await openBrowser(c);
  const { page, problems } = await newPage(browser);
  await page.setBypassCSP(true);
  const base = `https://localhost:${c.audiencePort}`;
  const pages: [string, string][] = [
    ["/", `document.querySelectorAll("#players tbody tr").length === 3`],
    ["/ui/jobs", `document.querySelectorAll("#jobs tbody tr").length === 2`],
    [
      `/ui/job?id=${done}&task=1`,
      `document.querySelectorAll("#tasks tbody tr").length === 2 && !document.getElementById("detail").hidden`,
    ],
    ["/ui/submit", `document.documentElement.dataset.caller !== undefined`],
    ["/ui/audit", `document.querySelectorAll("#audit tbody tr").length > 0`],
  ];
  const found: Record<string, Violation[]> = {};
  for (const [path, ready] of pages) {
    await page.goto(base + path);
    await page.waitForFunction(ready);
    const v = await audit(page);
    if (v.length > 0) found[path] = v;
  }
  assertEquals(found, {}, JSON.stringify(found, null, 2));

  // The keyboard alone: the first Tab reaches the skip link, which moves focus to the content.
  await page.goto(base + "/");
  await page.waitForFunction(pages[0][1]);
  await page.keyboard.press("Tab");
  assertEquals(await page.evaluate(FOCUSED), "Skip to content");
  // Then the header's links, in order (Submit and Audit are shown: alice has every verb).
  const links: string[] = [];
  for (let i = 0; i < 4; i++) {
    await page.keyboard.press("Tab");
    links.push(await page.evaluate(FOCUSED) as string);
  }
  assertEquals(links, ["Fleet", "Jobs", "Submit", "Audit"]);
  // Enter on "Jobs" goes there.
  await page.reload();
  await page.waitForFunction(pages[0][1]);
  for (let i = 0; i < 3; i++) await page.keyboard.press("Tab");
  assertEquals(await page.evaluate(FOCUSED), "Jobs");
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  assertEquals(new URL(page.url()).pathname, "/ui/jobs");

  // On the job page, a host is chosen with Tab and Enter alone.
  await page.goto(`${base}/ui/job?id=${done}`);
  await page.waitForFunction(`document.querySelectorAll("#tasks tbody tr").length === 2`);
  let reached = "";
  for (let i = 0; i < 40 && reached !== "web1"; i++) {
    await page.keyboard.press("Tab");
    reached = await page.evaluate(
      `document.activeElement?.closest("#tasks") ? document.activeElement.textContent : ""`,
    ) as string;
  }
  assertEquals(reached, "web1");
  await page.keyboard.press("Enter");
  await page.waitForFunction(`!document.getElementById("detail").hidden`);
  const title = await page.$eval("#detail-title", (e) => e.textContent ?? "");
  assert(title.includes("web1"), title);
  assertEquals(await problems(), []);
});
