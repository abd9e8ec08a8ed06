/**
 * The audit page's script (an ES module, run by the browser): the audit
 * trail from `GET /v1/audit`, newest first, a page at a time (`before=`),
 * filtered by who and since (kept in the address). There is no audit event
 * to follow: "Refresh" asks again, nothing runs on a timer. A caller
 * without the `audit` verb sees the conductor's refusal. Everything shown
 * is set as text, never parsed as HTML.
 */
export const AUDIT_JS = `// orch dashboard: the audit page.
import { $, cell, loader } from "./common.js";

const errorBox = $("error");
const summary = $("summary");
const tbody = document.querySelector("#audit tbody");
const older = $("older");
const newest = $("newest");

const params = new URLSearchParams(location.search);
const who = (params.get("who") ?? "").trim();
// Since: as the form's date and time field holds it (local time), kept so in the address.
const sinceText = (params.get("since") ?? "").trim();
const sinceMs = sinceText === "" ? null : new Date(sinceText).getTime();
$("who").value = who;
$("since").value = sinceText;
const limitAsked = Number.parseInt(params.get("limit") ?? "", 10);
const limit = Number.isInteger(limitAsked) ? Math.min(Math.max(limitAsked, 1), 1000) : 50;
const beforeAsked = Number.parseInt(params.get("before") ?? "", 10);
const before = Number.isInteger(beforeAsked) && beforeAsked > 0 ? beforeAsked : null;

/** The page's own address with extra (null: left out). */
function address(extra) {
  const q = new URLSearchParams();
  if (who !== "") q.set("who", who);
  if (sinceText !== "") q.set("since", sinceText);
  if (limit !== 50) q.set("limit", String(limit));
  for (const [k, v] of Object.entries(extra)) if (v !== null) q.set(k, String(v));
  const s = q.toString();
  return "/ui/audit" + (s === "" ? "" : "?" + s);
}

function apiUrl() {
  const q = new URLSearchParams({ limit: String(limit) });
  if (before !== null) q.set("before", String(before));
  if (who !== "") q.set("who", who);
  if (sinceMs !== null && Number.isFinite(sinceMs)) q.set("since", new Date(Math.max(0, sinceMs)).toISOString());
  return "/v1/audit?" + q;
}

function row(r) {
  const tr = document.createElement("tr");
  tr.dataset.record = String(r.id);
  const at = document.createElement("th");
  at.scope = "row";
  at.textContent = new Date(r.at).toLocaleString();
  at.title = new Date(r.at).toISOString();
  tr.append(at);
  cell(tr, r.who);
  cell(tr, r.action);
  const outcome = cell(tr, r.outcome, "outcome outcome-" + (r.outcome === "allowed" ? "allowed" : "refused"));
  outcome.dataset.outcome = r.outcome;
  const about = cell(tr);
  if (r.job_id !== null) {
    const a = document.createElement("a");
    a.href = "/ui/job?id=" + r.job_id;
    a.textContent = "#" + r.job_id;
    about.append(a, " ");
  }
  about.append(r.subject);
  cell(tr, r.reason ?? "", "reason");
  cell(tr, r.from === r.transport ? r.transport : r.transport + " " + r.from);
  return tr;
}

function render(records) {
  tbody.replaceChildren(...records.map(row));
  summary.textContent = records.length === 0
    ? "No records" + (before === null ? "." : " older than this page.")
    : records.length + (records.length === 1 ? " record" : " records") + ", newest first.";
  older.hidden = records.length < limit;
  if (records.length > 0) older.href = address({ before: records[records.length - 1].id });
  newest.hidden = before === null;
  newest.href = address({});
}

const load = loader(apiUrl, (body) => render(body.records), errorBox);

$("filter").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = new URLSearchParams();
  const w = $("who").value.trim();
  const s = $("since").value.trim();
  if (w !== "") q.set("who", w);
  if (s !== "") q.set("since", s);
  if (limit !== 50) q.set("limit", String(limit));
  // A new filter starts from the newest records.
  location.assign("/ui/audit" + (q.toString() === "" ? "" : "?" + q));
});
$("refresh").addEventListener("click", () => load());

if (sinceText !== "" && !Number.isFinite(sinceMs)) {
  $("error").hidden = false;
  $("error").textContent = "since: " + JSON.stringify(sinceText) + " is not a date and time";
} else {
  load();
}
`;
