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
import puppeteer, { type Browser, type HTTPResponse, type Page } from "puppeteer-core";
import type { Cluster } from "./cluster.ts";
import { openApiChecker } from "./openapi.ts";

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

/**
 * A time as the pages print it (`Date.prototype.toLocaleString` in the
 * browser's en-US locale, which {@linkcode launch} sets):
 * `11/23/2026, 3:30:00 AM` (newer ICU puts a narrow space before AM).
 */
export const SHOWN_TIME =
  /^(1[0-2]|[1-9])\/(3[01]|[12]\d|[1-9])\/\d{4}, (1[0-2]|[1-9]):[0-5]\d:[0-5]\d[ \u202f][AP]M$/;

/** A time as the API sends it, and as the pages keep it in a time cell's title. */
export const SENT_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

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
      // The pages print times in the browser's locale: one known locale, so tests know the form.
      "--lang=en-US",
      `--user-data-dir=${join(home, "profile")}`,
    ],
    env: { ...Deno.env.toObject(), HOME: home, LANG: "en_US.UTF-8", LANGUAGE: "en_US" },
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

/** What {@linkcode newPage} gives: the page, and what went wrong on it. */
export interface CheckedPage {
  page: Page;
  /**
   * Script errors, policy refusals and API answers that break the OpenAPI
   * description, as they are found (an answer's check may still be under
   * way: read them with `problems()` at the end).
   */
  violations: string[];
  /** The API answers checked so far, as `METHOD PATH STATUS`. */
  checked: string[];
  /** Every violation, once the checks of the answers received so far are done (each waits 10 s at most). */
  problems(): Promise<string[]>;
}

/**
 * A new laptop-sized page, and the list its script errors, policy refusals
 * and API answers that break the description are gathered in (answers with
 * an error status are expected in some tests, so "Failed to load resource"
 * is not one). Every `application/json` answer to a `/v1/` path the page
 * gets (its own requests and a test's `fetch` in it alike) is checked
 * against the OpenAPI description: method, path with query, status,
 * content type and body. Event streams are never read (their bodies do not
 * end). A test ends with `assertEquals(await problems(), [])`.
 */
export async function newPage(browser: Browser): Promise<CheckedPage> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 720 });
  const violations: string[] = [];
  const checked: string[] = [];
  const pending = new Set<Promise<void>>();
  page.on("pageerror", (e) => violations.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
      violations.push(m.text());
    }
  });
  // Main-frame navigations so far: an answer whose body never came is a fault only if the
  // page stayed where it was (Chromium may never finish a load a navigation cut).
  let navigations = 0;
  page.on("framenavigated", (frame) => {
    if (frame === page.mainFrame()) navigations++;
  });
  page.on("response", (res) => {
    const check = checkAnswer(res, violations, checked, () => navigations);
    if (check === null) return;
    pending.add(check);
    check.finally(() => pending.delete(check));
  });
  return {
    page,
    violations,
    checked,
    async problems() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
      return violations;
    },
  };
}

/**
 * Checks one answer the page got against the OpenAPI description, adding
 * what breaks it to `violations`; null when it is not a JSON answer of the
 * API (an event stream, an asset, another origin's).
 */
function checkAnswer(
  res: HTTPResponse,
  violations: string[],
  checked: string[],
  navigations: () => number,
): Promise<void> | null {
  const url = new URL(res.url());
  const contentType = res.headers()["content-type"] ?? "";
  if (!url.pathname.startsWith("/v1/")) return null;
  if (!/^application\/json\s*(;|$)/i.test(contentType)) return null;
  const method = res.request().method();
  const path = url.pathname + url.search;
  const status = res.status();
  const seen = navigations();
  return (async () => {
    const text = await bodyOf(res);
    if (text === UNREADABLE) {
      // The page went on (navigated, closed) before the body could be read: nothing to check.
      return;
    }
    if (text === NEVER_CAME) {
      if (navigations() === seen && !res.frame()?.page().isClosed()) {
        violations.push(
          `${method} ${path} answered ${status}, but its body did not arrive in ${BODY_WAIT_MS} ms`,
        );
      }
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      violations.push(
        `${method} ${path} answered ${status}: its body is not JSON: ${text.slice(0, 200)}`,
      );
      return;
    }
    try {
      openApiChecker.check({ method, path, status, contentType, body });
      checked.push(`${method} ${path} ${status}`);
    } catch (err) {
      violations.push(err instanceof Error ? err.message : String(err));
    }
  })();
}

/** How long an answer's body may take once its headers came. */
const BODY_WAIT_MS = 10_000;
const UNREADABLE = Symbol("unreadable");
const NEVER_CAME = Symbol("never came");

/**
 * The body of an answer; UNREADABLE when Chromium no longer has it, and
 * NEVER_CAME when it did not arrive in BODY_WAIT_MS. A load cut by a
 * navigation may never end, and puppeteer's `text()` then waits for ever
 * (puppeteer/puppeteer#7094): the wait is bounded so a test cannot hang.
 */
async function bodyOf(res: HTTPResponse): Promise<string | typeof UNREADABLE | typeof NEVER_CAME> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<typeof NEVER_CAME>((resolve) => {
    timer = setTimeout(() => resolve(NEVER_CAME), BODY_WAIT_MS);
  });
  try {
    return await Promise.race([res.text(), late]);
  } catch {
    return UNREADABLE;
  } finally {
    clearTimeout(timer);
  }
}

/** A time cell: its text, its title (the time the API sent), and the title as the browser prints it. */
export interface TimeCell {
  text: string;
  title: string;
  printed: string;
}

/** The time cell `sel` of `page` (see {@linkcode TimeCell}). */
export function timeCell(page: Page, sel: string): Promise<TimeCell> {
  return page.$eval(sel, (e) => {
    const title = e.getAttribute("title") ?? "";
    return { text: e.textContent ?? "", title, printed: new Date(title).toLocaleString() };
  });
}

/** Saves a screenshot of `page` as `name` (see the module's note on where). */
export async function shot(page: Page, c: Cluster, name: string): Promise<void> {
  const dir = Deno.env.get("ORCH_SCREENSHOTS") ?? c.dir;
  await Deno.mkdir(dir, { recursive: true });
  await page.screenshot({ path: join(dir, name) as `${string}.png` });
}
