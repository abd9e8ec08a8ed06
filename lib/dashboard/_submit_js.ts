/**
 * The submit page's script (an ES module, run by the browser): a form that
 * builds a `POST /v1/jobs` body. The scores offered are those the connected
 * players announce (`GET /v1/players`) that the caller's submit grants
 * (`GET /v1/me`) cover; the preview asks `GET /v1/players?target=`. Only
 * obvious mistakes are caught here; the conductor's 400 or 403 message is
 * shown as text. A job made goes to `/ui/job?id=N`.
 */
export const SUBMIT_JS = `// orch dashboard: the submit page.
import { $, globMatch, may, showError, splitTargets, whoamiAnswer } from "./common.js";

const form = $("submit");
const errorBox = $("error");
const preview = $("preview");
const tbody = document.querySelector("#params tbody");
/** Players listed in a preview, at most. */
const PREVIEW_NAMES = 5;
/** Parameter rows, at most (the API takes at most 64 parameters). */
const MAX_ROWS = 64;
/** Names of parameters whose values are likely secret: their rows start as secret. */
const SECRET_NAME = /pass|secret|token|key|credential/i;

/** A fresh request id for this form: the same submit sent twice makes one job. */
let requestId = crypto.randomUUID();

async function loadScores() {
  const [answer, res] = await Promise.all([
    whoamiAnswer(),
    fetch("/v1/players", { headers: { accept: "application/json" } }),
  ]);
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    showError(errorBox, body?.error?.message ?? ("the conductor answered " + res.status));
    return;
  }
  const me = answer.me;
  if (me === null) {
    // Who the caller is could not be read: say why, not that it may not submit.
    showError(errorBox, "cannot tell what you may submit: " + answer.error);
  } else if (!may(me, "submit")) {
    showError(errorBox, (me?.caller ?? "you") + " may not submit: no grant gives the submit verb");
  }
  const globs = (me?.grants ?? []).filter((g) => g.may.includes("submit")).flatMap((g) => g.scores);
  const names = new Set();
  for (const p of body.players) {
    if (!p.connected) continue;
    for (const s of p.scores) if (globs.some((g) => globMatch(g, s))) names.add(s);
  }
  const options = [...names].sort().map((s) => {
    const o = document.createElement("option");
    o.value = s;
    return o;
  });
  $("scores").replaceChildren(...options);
}

/** Counts previews asked for: only the latest one's answer is shown. */
let previewAsked = 0;

async function showPreview() {
  const mine = ++previewAsked;
  const exprs = splitTargets($("targets").value);
  if (exprs.length === 0) {
    preview.textContent = "Type targets to see which players they match.";
    return;
  }
  preview.textContent = "…";
  try {
    const res = await fetch("/v1/players?target=" + encodeURIComponent(exprs.join(" ")), {
      headers: { accept: "application/json" },
    });
    const body = await res.json().catch(() => null);
    if (mine !== previewAsked) return;
    if (!res.ok) {
      preview.textContent = body?.error?.message ?? ("the conductor answered " + res.status);
      return;
    }
    const players = body.players;
    const up = players.filter((p) => p.connected).length;
    const head = players.slice(0, PREVIEW_NAMES).map((p) => p.name).join(", ");
    preview.textContent = players.length === 0
      ? "No player matches."
      : players.length + (players.length === 1 ? " player matches" : " players match") +
        " (" + up + " connected): " + head +
        (players.length > PREVIEW_NAMES ? " and " + (players.length - PREVIEW_NAMES) + " more" : "");
    preview.dataset.count = String(players.length);
  } catch (err) {
    if (mine === previewAsked) preview.textContent = "cannot reach the conductor: " + err.message;
  }
}

function addRow() {
  if (tbody.children.length >= MAX_ROWS) return;
  const n = tbody.children.length + 1;
  const tr = document.createElement("tr");
  const key = document.createElement("input");
  key.className = "param-key";
  key.maxLength = 64;
  key.autocomplete = "off";
  key.spellcheck = false;
  key.setAttribute("aria-label", "Name of parameter " + n);
  const value = document.createElement("input");
  value.className = "param-value";
  value.autocomplete = "off";
  value.spellcheck = false;
  value.setAttribute("aria-label", "Value of parameter " + n);
  const secret = document.createElement("input");
  secret.type = "checkbox";
  secret.className = "param-secret";
  secret.setAttribute("aria-label", "Parameter " + n + " is secret");
  const setSecret = () => {
    value.type = secret.checked ? "password" : "text";
  };
  secret.addEventListener("change", setSecret);
  // A name that looks secret hides its value, until the box is unticked by hand.
  let touched = false;
  secret.addEventListener("click", () => {
    touched = true;
  });
  key.addEventListener("input", () => {
    if (touched) return;
    secret.checked = SECRET_NAME.test(key.value);
    setSecret();
  });
  setSecret();
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "remove";
  remove.textContent = "Remove";
  remove.setAttribute("aria-label", "Remove parameter " + n);
  remove.addEventListener("click", () => {
    tr.remove();
    $("add-param").focus();
  });
  for (const el of [key, value, secret, remove]) {
    const td = document.createElement("td");
    td.append(el);
    tr.append(td);
  }
  tbody.append(tr);
  key.focus();
}

/** A count ("5") or a percentage ("10%") for field, or null when empty; throws naming it. */
function amount(id, what) {
  const text = $(id).value.trim();
  if (text === "") return null;
  const m = /^(\\d{1,6})(%?)$/.exec(text);
  if (!m) throw new Error(what + ": expected a count such as 5, or a percentage such as 10%");
  return m[2] === "%" ? { percent: Number(m[1]) } : { count: Number(m[1]) };
}

function integer(id, what) {
  const text = $(id).value.trim();
  if (text === "") return null;
  if (!/^\\d{1,12}$/.test(text)) throw new Error(what + ": expected a whole number");
  return Number(text);
}

/** The request body from the form; throws an Error naming an obvious mistake. */
function body() {
  const score = $("score").value.trim();
  if (score === "") throw new Error("score: choose or type a score");
  const targets = splitTargets($("targets").value);
  if (targets.length === 0) throw new Error("targets: at least one target is needed");
  const scope = form.elements.scope.value;
  const req = { score, scope: scope === "some" ? "all" : scope, targets, params: {}, secret: [] };
  if (scope === "some") {
    const some = amount("some", "some");
    if (some === null) throw new Error("some: say how many, e.g. 2 or 50%");
    req.some = some;
  }
  for (const tr of tbody.children) {
    const key = tr.querySelector(".param-key").value.trim();
    const value = tr.querySelector(".param-value").value;
    if (key === "" && value === "") continue;
    if (key === "") throw new Error("params: a value has no name");
    if (Object.hasOwn(req.params, key)) throw new Error("params: " + key + " is given twice");
    req.params[key] = value;
    if (tr.querySelector(".param-secret").checked) req.secret.push(key);
  }
  const timeout = integer("timeout", "timeout");
  if (timeout !== null) req.timeout_ms = timeout * 1000;
  const retries = integer("retries", "retries");
  if (retries !== null) req.retries = retries;
  const deadline = $("deadline").value;
  if (deadline !== "") {
    const at = new Date(deadline).getTime();
    if (!Number.isFinite(at)) throw new Error("start by: not a date and time");
    req.deadline = new Date(at).toISOString();
  }
  const quorum = integer("quorum", "quorum");
  if (quorum !== null) req.quorum = quorum;
  const batch = amount("batch", "batch");
  if (batch !== null) req.batch = batch;
  const maxErrors = amount("max_errors", "stop after errors");
  if (maxErrors !== null) req.max_errors = maxErrors;
  req.request_id = requestId;
  return req;
}

let sending = false;
form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (sending) return;
  let req;
  try {
    req = body();
  } catch (err) {
    showError(errorBox, err.message);
    return;
  }
  sending = true;
  $("go").disabled = true;
  try {
    const res = await fetch("/v1/jobs", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(req),
    });
    const answer = await res.json().catch(() => null);
    if (res.status === 201 && Number.isSafeInteger(answer?.id)) {
      location.assign("/ui/job?id=" + answer.id);
      return;
    }
    showError(errorBox, answer?.error?.message ?? ("the conductor answered " + res.status));
    // Refused: a corrected form is another request.
    requestId = crypto.randomUUID();
  } catch (err) {
    // No answer: the same request id again cannot make a second job.
    showError(errorBox, "cannot reach the conductor: " + err.message);
  } finally {
    sending = false;
    $("go").disabled = false;
  }
});

$("add-param").addEventListener("click", addRow);
$("preview-button").addEventListener("click", showPreview);
$("targets").addEventListener("keydown", (ev) => {
  // Enter in the targets field previews rather than submits.
  if (ev.key === "Enter") {
    ev.preventDefault();
    showPreview();
  }
});
loadScores().catch((err) => showError(errorBox, "cannot list the scores: " + err.message));
`;
