/**
 * The one-job page's script (an ES module, run by the browser). The job
 * comes from `GET /v1/jobs/ID` (with `may_cancel`), its tasks a page at a
 * time from `GET /v1/jobs/ID/tasks` (filtered by state and host, kept in
 * the address), the chosen task from `GET /v1/jobs/ID/tasks/TID`. The job's
 * event stream (`GET /v1/jobs/ID/events`, with the chosen task's output
 * only, or none) moves the header, asks again for the rows on screen when
 * one of their tasks changes (at most once a second), and grows the chosen
 * task's output as it is printed (drawn at most once a frame). Everything shown
 * is set as text, never parsed as HTML.
 */
export const JOB_JS = `// orch dashboard: the one-job page.
import { $, cell, FINAL_STATES, follow, loader, progressBar, replaceRows, showError, throttle } from "./common.js";

const liveBox = $("live");
const errorBox = $("error");
const detailError = $("detail-error");
const tbody = document.querySelector("#tasks tbody");
const dialog = $("cancel-dialog");
/** Tasks a page. */
const LIMIT = 50;
/** Bytes of each output stream of a task the page keeps (the latest). */
const KEEP = 256 * 1024;
/** Tasks whose live output the page keeps (the latest to print, and the chosen one). */
const KEEP_TASKS = 32;

const params = new URLSearchParams(location.search);
const idText = params.get("id") ?? "";
const id = /^[0-9]{1,15}$/.test(idText) && Number(idText) >= 1 ? Number(idText) : null;
const filters = { state: (params.get("state") ?? "").trim(), host: (params.get("host") ?? "").trim() };
const pageAsked = Number.parseInt(params.get("page") ?? "", 10);
let page = Number.isSafeInteger(pageAsked) && pageAsked >= 1 ? pageAsked : 1;
const taskAsked = Number.parseInt(params.get("task") ?? "", 10);
/** The task whose detail is shown, or null. */
let selected = Number.isSafeInteger(taskAsked) && taskAsked >= 1 ? taskAsked : null;

/** The job's view; may_cancel from its first answer. */
let job = null;
let mayCancel = false;
/** The rows on screen, by task id. */
const shown = new Map();
/** The chosen task's detail, as last read. */
let detail = null;
/** Live output by task id: { attempt, stdout, stderr }, the latest to print last. */
const outputs = new Map();

$("state").value = filters.state;
$("host").value = filters.host;

function data(ev) {
  try {
    return JSON.parse(ev.data);
  } catch {
    return null;
  }
}

/** A time as the API sends it (RFC 3339), in the browser's local time. */
function when(at) {
  return at === null || at === undefined ? "—" : new Date(at).toLocaleString();
}

/** Milliseconds from one time the API sent to another. */
function between(from, to) {
  return Date.parse(to) - Date.parse(from);
}

function duration(ms) {
  if (ms < 1000) return ms + " ms";
  if (ms < 60_000) return (ms / 1000).toFixed(1) + " s";
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return (h > 0 ? h + " h " : "") + m + " min " + (s % 60) + " s";
}

function stateSpan(state) {
  const s = document.createElement("span");
  s.className = "task-state st-" + state;
  s.textContent = state;
  return s;
}

/** What a task's or attempt's end says: exit code, signal, reason. */
function outcome(t) {
  const words = [];
  if (t.exit_code !== null && t.exit_code !== undefined) words.push("exit " + t.exit_code);
  if (t.signal) words.push(t.signal);
  if (t.reason) words.push(t.reason);
  if (t.error) words.push(t.error);
  return words.length === 0 ? "—" : words.join("; ");
}

function address() {
  const url = new URL(location.href);
  const q = new URLSearchParams({ id: String(id) });
  if (filters.state !== "") q.set("state", filters.state);
  if (filters.host !== "") q.set("host", filters.host);
  if (page > 1) q.set("page", String(page));
  if (selected !== null) q.set("task", String(selected));
  url.search = "?" + q;
  history.replaceState(null, "", url);
}

// The job.

/** Target expressions and hosts the page names at most; the rest are counted or elided. */
const FEW = 10;

/** The first few of list, joined, with "…" when there are more (total of them, when known). */
function firstFew(list, total = list.length) {
  return list.slice(0, FEW).join(", ") + (total > FEW ? ", …" : "");
}

/** What the job asked for (its target expressions, as submitted) and the hosts they chose. */
function drawTargets() {
  $("targets").replaceChildren(...job.targets.slice(0, FEW).flatMap((t, i) => {
    const c = document.createElement("code");
    c.textContent = t;
    return i === 0 ? [c] : [" ", c];
  }));
  if (job.targets.length > FEW) $("targets").append(" …");
  const n = job.host_count;
  const some = job.rollout_settings?.some;
  const names = n === 0 ? "" : ": " + firstFew(job.hosts, n);
  $("hosts").textContent = job.scope === "one"
    ? "runs on one of " + n + (n === 1 ? " host" : " hosts") + names
    : some !== undefined
    ? "runs on " + some + " of " + n + " hosts" + names
    : n + (n === 1 ? " host" : " hosts") + names;
}

function drawJob() {
  $("title").textContent = "Job #" + job.id;
  document.title = "orch — job #" + job.id;
  $("score").textContent = job.score;
  $("scope").textContent = job.scope === "one" ? "one of" : "all of";
  drawTargets();
  $("submitted").textContent = job.submitted_by + ", " + when(job.submitted_at);
  $("submitted").title = new Date(job.submitted_at).toISOString();
  const ps = Object.entries(job.params);
  if (ps.length === 0) $("params").textContent = "none";
  else {
    $("params").replaceChildren(...ps.map(([k, v]) => {
      const s = document.createElement("span");
      s.className = "label";
      // Secret values come masked from the conductor, and stay so.
      s.textContent = k + "=" + v;
      return s;
    }));
  }
  const agg = document.createElement("span");
  agg.className = "agg agg-" + job.aggregate;
  agg.textContent = job.aggregate + (job.finished_at === null ? "" : ", finished " + when(job.finished_at));
  $("aggregate").replaceChildren(agg);
  progressBar($("progress"), job.counts, job.offline);
  $("cancel").hidden = !(mayCancel && job.finished_at === null);
  $("job").hidden = false;
}

async function loadJob() {
  try {
    const res = await fetch("/v1/jobs/" + id, { headers: { accept: "application/json" } });
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      showError(errorBox, body?.error?.message ?? ("the conductor answered " + res.status));
      return false;
    }
    job = body;
    mayCancel = body.may_cancel === true;
    drawJob();
    return true;
  } catch (err) {
    showError(errorBox, "cannot reach the conductor: " + err.message);
    return false;
  }
}

// The tasks, a page at a time.

const loadTasks = loader(() => {
  const q = new URLSearchParams({ page: String(page), limit: String(LIMIT) });
  if (filters.state !== "") q.set("state", filters.state);
  if (filters.host !== "") q.set("host", filters.host);
  return "/v1/jobs/" + id + "/tasks?" + q;
}, drawTasks, errorBox);

function row(t) {
  const tr = document.createElement("tr");
  tr.dataset.task = String(t.id);
  if (t.id === selected) tr.className = "selected";
  const th = document.createElement("th");
  th.scope = "row";
  const b = document.createElement("button");
  b.type = "button";
  b.className = "link";
  b.textContent = t.host ?? "(not placed yet)";
  b.setAttribute("aria-pressed", String(t.id === selected));
  b.addEventListener("click", (ev) => {
    ev.stopPropagation();
    select(t.id);
  });
  th.append(b);
  tr.append(th);
  tr.addEventListener("click", () => select(t.id));
  cell(tr, undefined, "state").append(stateSpan(t.state));
  cell(tr, String(t.attempt), "num attempt");
  cell(tr, outcome(t), "outcome");
  cell(tr, when(t.started_at));
  cell(tr, when(t.ended_at));
  const d = t.started_at !== null && t.ended_at !== null
    ? duration(between(t.started_at, t.ended_at))
    : (t.started_at !== null ? "running" : "—");
  cell(tr, d, "num");
  return tr;
}

function drawTasks(body) {
  shown.clear();
  const rows = body.tasks.map((t) => {
    const tr = row(t);
    shown.set(t.id, tr);
    return tr;
  });
  replaceRows(tbody, rows, "task");
  const pages = Math.max(1, Math.ceil(body.total / body.limit));
  const what = [filters.state, filters.host === "" ? "" : "on " + filters.host].filter((w) => w !== "");
  $("summary").textContent = body.total + " tasks" + (what.length ? " (" + what.join(", ") + ")" : "") +
    ", page " + body.page + " of " + pages + (rows.length === 0 && body.total > 0 ? ": none on this page" : "");
  $("prev").hidden = body.page <= 1;
  $("next").hidden = body.page >= pages;
  $("tasks-section").hidden = false;
}

function go(to) {
  page = Math.max(1, to);
  address();
  loadTasks();
}

$("prev").addEventListener("click", () => go(page - 1));
$("next").addEventListener("click", () => go(page + 1));
$("filter").addEventListener("submit", (ev) => {
  ev.preventDefault();
  filters.state = $("state").value;
  filters.host = $("host").value.trim();
  go(1);
});

// The chosen task.

const loadDetail = loader(() => "/v1/jobs/" + id + "/tasks/" + selected, drawDetail, detailError);

function select(tid) {
  const other = tid !== selected;
  selected = tid;
  address();
  // The stream carries the chosen task's output only: another task, another stream.
  if (other && stream !== null && !finished) listen();
  for (const [k, tr] of shown) {
    tr.className = k === tid ? "selected" : "";
    tr.querySelector("button.link")?.setAttribute("aria-pressed", String(k === tid));
  }
  loadDetail().then(() => $("detail").scrollIntoView({ block: "start" }));
}

function drawDetail(d) {
  if (d.id !== selected) return;
  detail = d;
  $("detail-title").textContent = "Task #" + d.id + " on " + (d.host ?? "(not placed yet)") + ": ";
  $("detail-title").append(stateSpan(d.state));
  $("attempts").querySelector("tbody").replaceChildren(...d.attempts.map((a) => {
    const tr = document.createElement("tr");
    cell(tr, String(a.attempt), "num");
    cell(tr, a.player);
    cell(tr, when(a.started_at));
    cell(tr, when(a.ended_at));
    cell(tr, undefined).append(stateSpan(a.state));
    cell(tr, a.exit_code === null ? (a.signal ?? "—") : String(a.exit_code), "num");
    return tr;
  }));
  const entries = d.response === null ? [] : Object.entries(d.response);
  $("no-response").hidden = entries.length > 0;
  $("response").hidden = entries.length === 0;
  $("response").querySelector("tbody").replaceChildren(...entries.map(([k, v]) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = k;
    tr.append(th);
    cell(tr, typeof v === "string" ? v : JSON.stringify(v));
    return tr;
  }));
  $("detail").hidden = false;
  drawOutput();
}

// Live output: the pieces of each stream, in order, with a marker where bytes were not streamed.

function newStream() {
  return { parts: [], bytes: 0, next: 0, dropped: 0 };
}

function pour(s, offset, bytes, text) {
  // Seen already (a resumed stream replays): pieces are told apart by offset.
  if (offset < s.next) return;
  if (offset > s.next) s.parts.push({ text: "\\n… " + (offset - s.next) + " bytes not shown …\\n", bytes: 0 });
  s.parts.push({ text, bytes });
  s.bytes += bytes;
  s.next = offset + bytes;
  while (s.bytes > KEEP && s.parts.length > 1) {
    const p = s.parts.shift();
    s.bytes -= p.bytes;
    s.dropped += p.bytes;
  }
}

function streamText(s) {
  return (s.dropped > 0 ? "… " + s.dropped + " bytes not shown …\\n" : "") + s.parts.map((p) => p.text).join("");
}

function onOutput(o) {
  if (o === null || !Number.isSafeInteger(o.task) || typeof o.data !== "string") return;
  let l = outputs.get(o.task);
  if (!l || l.attempt !== o.attempt) l = { attempt: o.attempt, stdout: newStream(), stderr: newStream() };
  // The latest to print go last; past the bound the earliest are forgotten, never the chosen one.
  outputs.delete(o.task);
  outputs.set(o.task, l);
  for (const k of outputs.keys()) {
    if (outputs.size <= KEEP_TASKS) break;
    if (k !== selected) outputs.delete(k);
  }
  pour(o.stream === "stderr" ? l.stderr : l.stdout, o.offset, o.bytes, o.data);
  if (o.task === selected) drawOutputSoon();
}

/** Draws the output once, at the next frame, however many pieces came before it. */
let drawPending = false;
function drawOutputSoon() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    drawOutput();
  });
}

function drawOutput() {
  if (detail === null || detail.id !== selected) return;
  const l = outputs.get(detail.id);
  // A task that ended shows what was stored of its output; a running one what streamed.
  const useLive = l !== undefined && !FINAL_STATES.has(detail.state);
  for (const name of ["stdout", "stderr"]) {
    const text = useLive ? streamText(l[name]) : detail[name + "_tail"];
    $(name).textContent = text === "" ? "(nothing yet)" : text;
  }
}

// Cancel, with a confirmation.

$("cancel").addEventListener("click", () => {
  const p = progressBar(document.createElement("div"), job.counts, job.offline);
  const open = p.total - p.done;
  $("cancel-text").textContent = "Cancel job #" + job.id + " (score " + job.score + ")? " + open + " of its " +
    p.total + " tasks are still open: queued ones will not run, running ones are stopped.";
  dialog.showModal();
});
$("keep-running").addEventListener("click", () => dialog.close());
$("confirm-cancel").addEventListener("click", async () => {
  dialog.close();
  $("cancel").disabled = true;
  try {
    const res = await fetch("/v1/jobs/" + id + "/cancel", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: "{}",
    });
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      showError(errorBox, "cancel refused: " + (body?.error?.message ?? ("the conductor answered " + res.status)));
      return;
    }
    showError(errorBox, null);
    $("cancel-result").textContent = "Cancelled: " + body.cancelled + " queued tasks will not run, " +
      body.stopping + " running tasks are being stopped.";
  } catch (err) {
    showError(errorBox, "cannot reach the conductor: " + err.message);
  } finally {
    $("cancel").disabled = false;
  }
});

// The job's event stream; it ends (and is closed) when the job ends.

/** The open stream, or null; finished once the job's end came. */
let stream = null;
let finished = false;
/** Asks again for the rows on screen, at most once a second. */
const loadTasksSoon = throttle(() => loadTasks(), 1000);

/** Opens the job's stream (closing the one open): with the chosen task's output, or none. */
function listen() {
  stream?.close();
  const output = selected === null ? "none" : String(selected);
  stream = follow(liveBox, () => {
    // What changed while the stream was down.
    loadTasks();
    if (selected !== null) loadDetail();
  }, {
    snapshot: (ev) => {
      const s = data(ev);
      if (s === null || typeof s.job !== "object") return;
      job = s.job;
      drawJob();
      for (const l of s.live ?? []) {
        for (const p of l.pieces) onOutput({ task: l.task, attempt: l.attempt, ...p });
      }
    },
    progress: (ev) => {
      const p = data(ev);
      if (p === null || job === null) return;
      job.counts = p.counts;
      job.offline = p.offline;
      job.aggregate = p.aggregate;
      drawJob();
    },
    task: (ev) => {
      const t = data(ev);
      if (t === null || !Number.isSafeInteger(t.task)) return;
      // A row on screen, or one that may now enter the filtered page: ask again, coalesced.
      if (shown.has(t.task) || (filters.state !== "" && t.state === filters.state)) {
        loadTasksSoon();
      }
      if (t.task === selected) loadDetail();
    },
    output: (ev) => onOutput(data(ev)),
    end: (ev) => {
      const e = data(ev);
      finished = true;
      stream.close();
      liveBox.textContent = "finished";
      liveBox.className = "live";
      if (e !== null && job !== null) {
        job.aggregate = e.aggregate;
        job.finished_at = e.finished_at;
        drawJob();
      }
      // The final counts and rows.
      loadJob();
      loadTasks();
      if (selected !== null) loadDetail();
    },
  }, { url: "/v1/jobs/" + id + "/events?output=" + output, errorBox });
}

if (id === null) {
  liveBox.textContent = "not live";
  showError(errorBox, "the address names no job: id " + JSON.stringify(idText) + " is not a job id (a number from 1)");
} else if (await loadJob()) {
  listen();
} else {
  liveBox.textContent = "not live";
}
`;
