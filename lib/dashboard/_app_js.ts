/**
 * The dashboard's script (an ES module, run by the browser): the fleet
 * page. Players come from `GET /v1/players?target=`; the page asks again
 * when the event stream (`GET /v1/events`) says a player came or went, never
 * on a timer. Everything shown is set as text, never parsed as HTML.
 */
export const APP_JS = `// orch dashboard: the fleet page.
import { $, cell, follow, loader } from "./common.js";

const live = $("live");
const errorBox = $("error");
const summary = $("summary");
const tbody = document.querySelector("#players tbody");
const input = $("target");

let target = new URLSearchParams(location.search).get("target") ?? "";
input.value = target;

const load = loader(
  () => "/v1/players" + (target.trim() === "" ? "" : "?target=" + encodeURIComponent(target.trim())),
  (body) => render(body.players),
  errorBox,
);

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

load();
follow(live, load, { player: () => load() });
`;
