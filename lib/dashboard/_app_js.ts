/**
 * The dashboard's script (an ES module, run by the browser): the fleet
 * page. Players come from `GET /v1/players?target=`; the page asks again
 * when the event stream (`GET /v1/events`) says a player came or went (at
 * most once a second under a storm of such events), and when a task is
 * sent to, or leaves, a player whose row is on screen, so that slots in use
 * stay live (at most once every 5 s: the list of a fleet of 10,000 players
 * is near 2 MB). Never on a timer; one request in flight at most. Rows are
 * drawn a page of 200 at a time, so a fleet of 10,000 players draws 200
 * rows. Everything shown is set as text, never parsed as HTML.
 */
export const APP_JS = `// orch dashboard: the fleet page.
import { $, cell, follow, loader, throttle } from "./common.js";

const live = $("live");
const errorBox = $("error");
const summary = $("summary");
const tbody = document.querySelector("#players tbody");
const input = $("target");
const pageInfo = $("page-info");
const prev = $("prev");
const next = $("next");

/** Rows drawn at once. */
const PAGE_SIZE = 200;
/** Least time between two reloads asked for by player events. */
const RELOAD_MS = 1000;
/** Least time between two reloads asked for by task events (many more of them, same answer). */
const TASK_RELOAD_MS = 5000;

let players = [];
let page = 0;
/** The names of the players whose rows are on screen. */
const onScreen = new Set();

let target = new URLSearchParams(location.search).get("target") ?? "";
input.value = target;

const load = loader(
  () => "/v1/players" + (target.trim() === "" ? "" : "?target=" + encodeURIComponent(target.trim())),
  (body) => {
    players = body.players;
    render();
  },
  errorBox,
);

/** A time as the API sends it (RFC 3339), in the browser's local time. */
function when(at) {
  if (at === null) return "never";
  return new Date(at).toLocaleString();
}

/** Draws the current page of players, the pager and the summary. */
function render() {
  const pages = Math.max(1, Math.ceil(players.length / PAGE_SIZE));
  page = Math.min(page, pages - 1);
  const first = page * PAGE_SIZE;
  const shown = players.slice(first, first + PAGE_SIZE);
  onScreen.clear();
  for (const p of shown) onScreen.add(p.name);
  const rows = shown.map((p) => {
    const tr = document.createElement("tr");
    tr.dataset.player = p.name;
    const name = document.createElement("th");
    name.scope = "row";
    name.textContent = p.name;
    tr.append(name);
    const state = cell(tr);
    const conn = document.createElement("span");
    conn.className = p.connected ? "state-connected" : "state-disconnected";
    conn.textContent = p.connected ? "connected" : "disconnected";
    state.append(conn);
    if (p.draining) {
      const d = document.createElement("span");
      d.className = "state-drained";
      d.textContent = ", drained";
      state.append(d);
    }
    if (!p.authorised) state.append(", not listed");
    const labels = cell(tr);
    for (const [k, v] of Object.entries(p.labels)) {
      const s = document.createElement("span");
      s.className = "label";
      s.textContent = k + "=" + v;
      labels.append(s);
    }
    cell(tr, p.connected ? p.running + " of " + p.slots : "—", "num");
    const seen = cell(tr, when(p.last_seen));
    if (p.last_seen !== null) seen.title = new Date(p.last_seen).toISOString();
    cell(tr, p.version ?? "—");
    return tr;
  });
  tbody.replaceChildren(...rows);
  let up = 0;
  let drained = 0;
  for (const p of players) {
    if (p.connected) up++;
    if (p.draining) drained++;
  }
  summary.textContent = players.length + " players, " + up + " connected, " + drained + " drained";
  pageInfo.textContent = players.length === 0
    ? ""
    : "Page " + (page + 1) + " of " + pages + " (players " + (first + 1) + "–" +
      (first + shown.length) + ")";
  prev.disabled = page === 0;
  next.disabled = page >= pages - 1;
}

/** Shows another page of the table. */
function turn(to) {
  page = to;
  render();
}
prev.addEventListener("click", () => turn(Math.max(0, page - 1)));
next.addEventListener("click", () => turn(page + 1));

/** Reloads for a player event: at once if the last was a second ago, else once when it is. */
const reloadSoon = throttle(() => load(), RELOAD_MS);
/** Reloads for a task event, the same way, at most once every 5 s. */
const reloadForTasks = throttle(() => load(), TASK_RELOAD_MS);

/**
 * A task event: a task sent to a player on screen (assigned) or ending there takes or frees one
 * of its slots; one put back in the queue (why) has left a player the event does not name.
 * Running follows assigned on the same slot: no change.
 */
function onTask(ev) {
  let t;
  try {
    t = JSON.parse(ev.data);
  } catch {
    return;
  }
  if (t === null || typeof t !== "object" || t.state === "running") return;
  const held = typeof t.host === "string" && onScreen.has(t.host);
  const putBack = t.host === null && t.state === "queued" && typeof t.why === "string";
  if (held || putBack) reloadForTasks();
}

$("filter").addEventListener("submit", (ev) => {
  ev.preventDefault();
  target = input.value;
  const url = new URL(location.href);
  if (target.trim() === "") url.searchParams.delete("target");
  else url.searchParams.set("target", target.trim());
  history.replaceState(null, "", url);
  page = 0;
  load();
});

load();
follow(live, reloadSoon, { player: reloadSoon, task: onTask }, { errorBox });
`;
