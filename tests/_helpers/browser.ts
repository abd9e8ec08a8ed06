/**
 * A real browser for the dashboard's tests: headless Chromium (Debian's,
 * driven by puppeteer-core) with its own NSS database, which trusts the
 * cluster's CA and holds one audience certificate, so the page, its API
 * calls and its event streams all go over the real mutual-TLS path and no
 * certificate error is ignored.
 *
 * `ORCH_SCREENSHOTS=DIR` writes the screenshots to DIR (`make screenshots`
 * refreshes docs/screenshots); otherwise to the test's folder.
 *
 * @module
 */

import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import type { Cluster } from "./cluster.ts";

export type { Browser, Page };

const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";

/**
 * Chromium's policy (system-wide; bash .ci/run writes it) that presents a
 * certificate issued by an orch CA to https://localhost:* without asking.
 */
const POLICY = "/etc/chromium/policies/managed/orch-dashboard-test.json";

/** Runs a tool of libnss3-tools; fails naming it when it is missing or refuses. */
async function tool(cmd: string, args: string[]): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (err) {
    throw new Error(`${cmd} is needed (Debian: apt-get install openssl libnss3-tools): ${err}`);
  }
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * A browser home whose NSS database trusts the cluster's CA and holds the
 * audience certificate `user` (issued already: `alice` always is).
 */
export async function browserHome(c: Cluster, user = "alice"): Promise<string> {
  const home = join(c.dir, `browser-home-${user}`);
  const db = join(home, ".pki", "nssdb");
  await Deno.mkdir(db, { recursive: true });
  const nss = `sql:${db}`;
  const p12 = join(c.dir, `${user}.p12`);
  await tool("certutil", ["-N", "-d", nss, "--empty-password"]);
  await tool("certutil", [
    "-A",
    "-d",
    nss,
    "-n",
    "orch-ca",
    "-t",
    "C,,",
    "-i",
    join(c.caDir, "ca.crt"),
  ]);
  await tool("openssl", [
    "pkcs12",
    "-export",
    "-in",
    join(c.caDir, `${user}.crt`),
    "-inkey",
    join(c.caDir, `${user}.key`),
    "-out",
    p12,
    "-passout",
    "pass:orch",
    "-name",
    user,
  ]);
  await tool("pk12util", ["-i", p12, "-d", nss, "-W", "orch"]);
  return home;
}

/** Headless Chromium with `home` (from {@linkcode browserHome}) as its home. */
export async function launch(home: string): Promise<Browser> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's chromium (bash .ci/run does) or set CHROMIUM`,
    );
  }
  try {
    await Deno.stat(POLICY);
  } catch {
    throw new Error(
      `no Chromium policy ${POLICY} to choose the client certificate: run bash .ci/run`,
    );
  }
  return await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      // Root in a container has no user namespaces for Chromium's sandbox.
      "--no-sandbox",
      // Nothing but the test's own pages: no update checks, sync or other calls out.
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      `--user-data-dir=${join(home, "profile")}`,
    ],
    env: { ...Deno.env.toObject(), HOME: home },
  });
}

/** A browser for the cluster as audience user `user`; `await using` closes it. */
export async function openBrowser(
  c: Cluster,
  user = "alice",
): Promise<Browser & AsyncDisposable> {
  const browser = await launch(await browserHome(c, user));
  return Object.assign(browser, {
    [Symbol.asyncDispose]: () => browser.close(),
  });
}

/**
 * A new laptop-sized page, and the list its script errors and policy
 * refusals are gathered in (answers with an error status are expected in
 * some tests, so "Failed to load resource" is not one). A test ends with
 * `assertEquals(violations, [])`.
 */
export async function newPage(browser: Browser): Promise<{ page: Page; violations: string[] }> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 720 });
  const violations: string[] = [];
  page.on("pageerror", (e) => violations.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
      violations.push(m.text());
    }
  });
  return { page, violations };
}

/** Saves a screenshot of `page` as `name` (see the module's note on where). */
export async function shot(page: Page, c: Cluster, name: string): Promise<void> {
  const dir = Deno.env.get("ORCH_SCREENSHOTS") ?? c.dir;
  await Deno.mkdir(dir, { recursive: true });
  await page.screenshot({ path: join(dir, name) as `${string}.png` });
}
