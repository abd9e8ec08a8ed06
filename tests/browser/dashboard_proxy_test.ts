/**
 * The dashboard in a real browser through `orch dashboard`: headless
 * Chromium with a plain home (no certificate at all) opens the address the
 * command prints, and the fleet page lists the players it reads through
 * the audience socket, live from the event stream.
 */

import { join } from "node:path";
import { assertEquals } from "../_helpers/assert.ts";
import { launch, newPage } from "../_helpers/browser.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { Proc } from "../_helpers/proc.ts";

const ROWS = `document.querySelectorAll("#players tbody tr").length`;

Deno.test("a browser with no certificate opens the address orch dashboard prints and sees the fleet", async () => {
  await using c = await Cluster.create({ players: ["web1", "web2"] });
  await c.startConductor();
  await c.startPlayer("web1");
  const dashboard = c.track(new Proc("dashboard", ["dashboard", "--socket", c.socket]));
  const [url] = await dashboard.waitFor(
    /^http:\/\/127\.\d{1,3}\.\d{1,3}\.\d{1,3}:\d+\/\?token=[0-9a-f]{64}$/,
  );
  const home = join(c.dir, "browser-home-plain");
  await Deno.mkdir(home, { recursive: true });
  const browser = await launch(home);
  try {
    const { page, problems } = await newPage(browser);
    const res = await page.goto(url);
    assertEquals(res?.status(), 200);
    // The token went into a cookie; the address no longer shows it.
    assertEquals(new URL(page.url()).search, "");
    await page.waitForFunction(ROWS + " === 2");
    await page.waitForFunction(`document.getElementById("live").textContent === "live"`);
    await page.waitForFunction(
      `document.querySelector('#players tr[data-player="web1"] td:nth-child(2)')?.textContent === "connected"`,
    );
    // Live through the proxy: a player that connects now turns its row.
    await c.startPlayer("web2");
    await page.waitForFunction(
      `document.querySelector('#players tr[data-player="web2"] td:nth-child(2)')?.textContent === "connected"`,
    );
    assertEquals(await problems(), []);
  } finally {
    await browser.close();
  }
});
