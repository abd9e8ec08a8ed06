/**
 * The dashboard's assets: plain HTML, CSS and an ES module, held as
 * strings so that the one-file deployable carries them (no build step, no
 * download at run time). The conductor serves them (see
 * `conductor/dashboard.ts`); this folder does no I/O.
 *
 * @module
 */

import { APP_JS } from "./_app_js.ts";
import { AUDIT_HTML } from "./_audit_html.ts";
import { AUDIT_JS } from "./_audit_js.ts";
import { COMMON_JS, COMMON_PROGRESS_JS } from "./_common_js.ts";
import { INDEX_HTML } from "./_index_html.ts";
import { JOB_HTML } from "./_job_html.ts";
import { JOB_JS } from "./_job_js.ts";
import { JOBS_HTML } from "./_jobs_html.ts";
import { JOBS_JS } from "./_jobs_js.ts";
import { JOB_STYLE_CSS, STYLE_CSS } from "./_style_css.ts";
import { SUBMIT_HTML } from "./_submit_html.ts";
import { SUBMIT_JS } from "./_submit_js.ts";

/** One asset: its text and media type. */
export interface DashboardAsset {
  body: string;
  type: string;
}

const ASSETS: ReadonlyMap<string, DashboardAsset> = new Map([
  ["/", { body: INDEX_HTML, type: "text/html; charset=utf-8" }],
  ["/ui/app.js", { body: APP_JS, type: "text/javascript; charset=utf-8" }],
  ["/ui/common.js", {
    body: COMMON_JS + COMMON_PROGRESS_JS,
    type: "text/javascript; charset=utf-8",
  }],
  ["/ui/style.css", { body: STYLE_CSS + JOB_STYLE_CSS, type: "text/css; charset=utf-8" }],
  ["/ui/jobs", { body: JOBS_HTML, type: "text/html; charset=utf-8" }],
  ["/ui/jobs.js", { body: JOBS_JS, type: "text/javascript; charset=utf-8" }],
  ["/ui/job", { body: JOB_HTML, type: "text/html; charset=utf-8" }],
  ["/ui/job.js", { body: JOB_JS, type: "text/javascript; charset=utf-8" }],
  ["/ui/submit", { body: SUBMIT_HTML, type: "text/html; charset=utf-8" }],
  ["/ui/submit.js", { body: SUBMIT_JS, type: "text/javascript; charset=utf-8" }],
  ["/ui/audit", { body: AUDIT_HTML, type: "text/html; charset=utf-8" }],
  ["/ui/audit.js", { body: AUDIT_JS, type: "text/javascript; charset=utf-8" }],
]);

/** True for the paths the dashboard owns: `/` and everything under `/ui/`. */
export function isDashboardPath(path: string): boolean {
  return path === "/" || path === "/ui" || path.startsWith("/ui/");
}

/** The asset at `path`, or undefined. */
export function dashboardAsset(path: string): DashboardAsset | undefined {
  return ASSETS.get(path);
}

/**
 * Headers of every dashboard answer. The policy lets the page load only its
 * own script and style (no inline code), talk only to its own origin, and
 * be framed by no one.
 */
export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; " +
    "frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};
