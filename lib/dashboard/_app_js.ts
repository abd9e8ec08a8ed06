/**
 * The dashboard's script (an ES module, run by the browser): the fleet
 * page. Players come from `GET /v1/players?target=`; the page asks again
 * when the event stream (`GET /v1/events`) says a player came or went, never
 * on a timer. Everything shown is set as text, never parsed as HTML.
 */
export const APP_JS = `// orch dashboard: the fleet page.
const $ = (id) => document.getElementById(id);
const live = $("live");
const errorBox = $("error");
const summary = $("summary");
const tbody = document.querySelector("#players tbody");
const input = $("target");

let target = new URLSearchParams(location.search).get("target") ?? "";
input.value = target;

// One request at a time; events that arrive meanwhile ask for one more.
let loading = false;
let again = false;

async function load() {
  if (loading) {
    again = true;
    return;
  }
  loading = true;
  try {
    do {
      again = false;
      const q = target.trim() === "" ? "" : "?target=" + encodeURIComponent(target.trim());
      const res = await fetch("/v1/players" + q, { headers: { accept: "application/json" } });
      const body = await res.json().catch(() => null);
      if (!res.ok) {
        showError(body?.error?.message ?? ("the conductor answered " + res.status));
        continue;
      }
      showError(null);
      render(body.players);
    } while (again);
  } catch (err) {
    showError("cannot reach the conductor: " + err.message);
  } finally {
    loading = false;
  }
}

function showError(message) {
  errorBox.hidden = message === null;
  errorBox.textContent = message ?? "";
}

function cell(row, text, className) {
  const td = document.createElement("td");
  if (text !== undefined) td.textContent = text;
  if (className) td.className = className;
  row.append(td);
  return td;
}

function when(ms) {
  if (ms === null) return "never";
  return new Date(ms).toLocaleString();
}

function render(players) {
  const rows = players.map((p) => {
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
  const up = players.filter((p) => p.connected).length;
  summary.textContent = players.length + " players, " + up + " connected";
}

$("filter").addEventListener("submit", (ev) => {
  ev.preventDefault();
  target = input.value;
  const url = new URL(location.href);
  if (target.trim() === "") url.searchParams.delete("target");
  else url.searchParams.set("target", target.trim());
  history.replaceState(null, "", url);
  load();
});

function follow() {
  const events = new EventSource("/v1/events");
  events.addEventListener("open", () => {
    live.textContent = "live";
    live.className = "live on";
    load();
  });
  events.addEventListener("player", () => load());
  events.addEventListener("error", () => {
    live.textContent = "reconnecting…";
    live.className = "live";
  });
}

load();
follow();
`;
