/**
 * The jobs page's script (an ES module, run by the browser). Jobs come from
 * `GET /v1/jobs` (newest first, filtered, a page at a time with `before=`);
 * the event stream (`GET /v1/events`) moves each row's aggregate and
 * progress bar as `progress` and `end` events arrive, and a job newer than
 * any shown makes the page ask again; nothing runs on a timer. Everything
 * shown is set as text, never parsed as HTML.
 */
export const JOBS_JS = `// orch dashboard: the jobs page.
import { $, cell, follow, loader, progressBar, replaceRows, throttle } from "./common.js";

const live = $("live");
const errorBox = $("error");
const summary = $("summary");
const tbody = document.querySelector("#jobs tbody");
const older = $("older");
const newest = $("newest");
const FILTERS = ["state", "score", "submitted_by"];
const params = new URLSearchParams(location.search);
const filters = {};
for (const k of FILTERS) {
  filters[k] = (params.get(k) ?? "").trim();
  $(k).value = filters[k];
}
// The page size (1 to 1000, 50 by default) and where this page starts.
const limitAsked = Number.parseInt(params.get("limit") ?? "", 10);
const limit = Number.isInteger(limitAsked) ? Math.min(Math.max(limitAsked, 1), 1000) : 50;
const beforeAsked = Number.parseInt(params.get("before") ?? "", 10);
const before = Number.isInteger(beforeAsked) && beforeAsked > 0 ? beforeAsked : null;

/** The jobs shown, by id: { job, row }. */
const shown = new Map();
/** The newest job id the page has asked about; a later one is new. */
let newestKnown = 0;

function query(extra) {
  const q = new URLSearchParams();
  for (const k of FILTERS) if (filters[k] !== "") q.set(k, filters[k]);
  for (const [k, v] of Object.entries(extra)) if (v !== null) q.set(k, String(v));
  return q;
}

const load = loader(() => "/v1/jobs?" + query({ limit, before }), (body) => render(body.jobs), errorBox);

function drawAggregate(td, job) {
  const s = document.createElement("span");
  s.className = "agg agg-" + job.aggregate;
  s.textContent = job.aggregate;
  td.replaceChildren(s);
}

function drawProgress(td, job) {
  const p = progressBar(td, job.counts, job.offline);
  td.dataset.done = String(p.done);
  td.dataset.running = String(p.running);
  td.dataset.queued = String(p.queued);
  td.dataset.offline = String(p.offline);
}

/** A time as the API sends it (RFC 3339), in the browser's local time. */
function when(at) {
  return new Date(at).toLocaleString();
}

function row(job) {
  const tr = document.createElement("tr");
  tr.dataset.job = String(job.id);
  const id = document.createElement("th");
  id.scope = "row";
  const link = document.createElement("a");
  link.href = "/ui/job?id=" + job.id;
  link.textContent = "#" + job.id;
  id.append(link);
  tr.append(id);
  cell(tr, job.score);
  cell(tr, job.scope === "one" ? "one of" : "all of");
  cell(tr, String(job.host_count), "num");
  cell(tr, job.submitted_by);
  const at = cell(tr, when(job.submitted_at));
  at.title = new Date(job.submitted_at).toISOString();
  drawAggregate(cell(tr, undefined, "aggregate"), job);
  drawProgress(cell(tr, undefined, "progress"), job);
  return tr;
}

function render(jobs) {
  const prev = shown;
  const next = new Map();
  const rows = jobs.map((j) => {
    // The listing counts offline tasks; a conductor without the count leaves the stream's.
    const job = { ...j, offline: j.offline ?? prev.get(j.id)?.job.offline ?? 0 };
    const tr = row(job);
    next.set(job.id, { job, row: tr });
    return tr;
  });
  shown.clear();
  for (const [k, v] of next) shown.set(k, v);
  replaceRows(tbody, rows, "job");
  if (jobs.length > 0) newestKnown = Math.max(newestKnown, jobs[0].id);
  summary.textContent = jobs.length === 0
    ? "No jobs" + (before === null ? "." : " older than #" + before + ".")
    : "Jobs #" + jobs[0].id + " to #" + jobs[jobs.length - 1].id + ", newest first.";
  // A full page may have older jobs behind it.
  older.hidden = jobs.length < limit;
  if (jobs.length > 0) {
    const q = query({ limit: limit === 50 ? null : limit, before: jobs[jobs.length - 1].id });
    older.href = "/ui/jobs?" + q;
  }
  newest.hidden = before === null;
  newest.href = "/ui/jobs?" + query({ limit: limit === 50 ? null : limit });
}

function update(id, change) {
  const s = shown.get(id);
  if (!s) return false;
  Object.assign(s.job, change);
  drawAggregate(s.row.querySelector("td.aggregate"), s.job);
  drawProgress(s.row.querySelector("td.progress"), s.job);
  return true;
}

function data(ev) {
  try {
    return JSON.parse(ev.data);
  } catch {
    return null;
  }
}

$("filter").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const url = new URL("/ui/jobs", location.href);
  for (const k of FILTERS) {
    filters[k] = $(k).value.trim();
    if (filters[k] !== "") url.searchParams.set(k, filters[k]);
  }
  if (limit !== 50) url.searchParams.set("limit", String(limit));
  // A new filter starts from the newest jobs.
  location.assign(url);
});

/** Asks again for an event, at most once a second. */
const loadSoon = throttle(() => load(), 1000);

load();
follow(live, loadSoon, {
  progress: (ev) => {
    const p = data(ev);
    if (p === null || !Number.isSafeInteger(p.job)) return;
    if (update(p.job, { counts: p.counts, offline: p.offline, aggregate: p.aggregate })) return;
    // A job newer than any asked about: on the first page, ask again once.
    if (before === null && p.job > newestKnown) {
      newestKnown = p.job;
      loadSoon();
    }
  },
  end: (ev) => {
    const e = data(ev);
    if (e === null || !Number.isSafeInteger(e.job)) return;
    update(e.job, { aggregate: e.aggregate, finished_at: e.finished_at });
  },
}, { errorBox });
`;
