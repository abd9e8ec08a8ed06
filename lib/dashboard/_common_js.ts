/**
 * What every dashboard page's script shares (an ES module, imported by the
 * pages' modules from `/ui/common.js`): loading a list one request at a
 * time, the error box, table cells set as text, rows redrawn without
 * losing the keyboard's focus, and following the event
 * stream with its live indicator; who the caller is (`GET /v1/me`), and
 * the header's links to pages behind a verb, shown only when a grant gives it.
 */
import { globMatch } from "../protocol/glob.ts";

export const COMMON_JS = `// orch dashboard: what the pages share.
export const $ = (id) => document.getElementById(id);

/** Shows message in box, or hides the box when it is null. */
export function showError(box, message) {
  box.hidden = message === null;
  box.textContent = message ?? "";
}

/** Adds a cell to row holding text (as text, never HTML). */
export function cell(row, text, className) {
  const td = document.createElement("td");
  if (text !== undefined) td.textContent = text;
  if (className) td.className = className;
  row.append(td);
  return td;
}

/**
 * Puts rows in tbody in place of those there. The rows carry their key in
 * data-<key>; a keyboard user's focus on a control in a row that is redrawn
 * moves to the same control of the row with the same key (without
 * scrolling), so a list that reloads on events never throws the focus back
 * to the top of the page.
 */
export function replaceRows(tbody, rows, key) {
  const active = document.activeElement;
  const was = active !== null && tbody.contains(active) ? active.closest("tr") : null;
  let at = -1;
  if (was !== null) at = [...was.querySelectorAll(FOCUSABLE)].indexOf(active);
  tbody.replaceChildren(...rows);
  if (was === null || at < 0) return;
  const again = rows.find((tr) => tr.dataset[key] === was.dataset[key]);
  again?.querySelectorAll(FOCUSABLE)[at]?.focus({ preventScroll: true });
}

const FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]";

/**
 * A load function: GETs url() and hands the answer to render, or
 * its error to errorBox. One request at a time; calls that arrive
 * meanwhile ask for one more.
 */
export function loader(url, render, errorBox) {
  let loading = false;
  let again = false;
  return async function load() {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    try {
      do {
        again = false;
        const res = await fetch(url(), { headers: { accept: "application/json" } });
        const body = await res.json().catch(() => null);
        if (!res.ok) {
          showError(errorBox, body?.error?.message ?? ("the conductor answered " + res.status));
          continue;
        }
        showError(errorBox, null);
        render(body);
      } while (again);
    } catch (err) {
      showError(errorBox, "cannot reach the conductor: " + err.message);
    } finally {
      loading = false;
    }
  };
}

/**
 * fn, called at most once every ms: at once when its last run was that
 * long ago, else once when it is (calls meanwhile are one). The page is
 * taken to have loaded when the throttle is made.
 */
export function throttle(fn, ms = 1000) {
  let last = Date.now();
  let pending = null;
  return function soon() {
    if (pending !== null) return;
    pending = setTimeout(() => {
      pending = null;
      last = Date.now();
      fn();
    }, Math.max(0, last + ms - Date.now()));
  };
}

/** Errors in a row, without an open between, after which a stream's refusal is asked for. */
const FAILURES_BEFORE_ASKING = 3;

/**
 * Why the event stream at url is refused, asked once with a plain request
 * (aborted once its answer's head is in): the API's own message, or null
 * when it is not refused.
 */
export async function streamRefusal(url) {
  const abort = new AbortController();
  try {
    const res = await fetch(url, { headers: { accept: "text/event-stream" }, signal: abort.signal });
    if (res.ok) return null;
    const body = await res.json().catch(() => null);
    return body?.error?.message ?? ("the conductor answered " + res.status);
  } catch (err) {
    return "cannot reach the conductor: " + err.message;
  } finally {
    abort.abort();
  }
}

/**
 * Follows an event stream (GET /v1/events without output, unless
 * options.url names another): live says whether the stream is up, onOpen
 * runs each time it (re)opens, and listeners maps event types to their
 * handlers. When the browser gives up on the stream (it was refused), or
 * it keeps failing, the API is asked once why, and its answer shown in
 * options.errorBox. Returns the EventSource.
 */
export function follow(live, onOpen, listeners, options = {}) {
  const url = options.url ?? "/v1/events?output=none";
  const events = new EventSource(url);
  let failures = 0;
  let asked = false;
  let shown = false;
  events.addEventListener("open", () => {
    failures = 0;
    asked = false;
    if (shown && options.errorBox) showError(options.errorBox, null);
    shown = false;
    live.textContent = "live";
    live.className = "live on";
    onOpen();
  });
  for (const [type, fn] of Object.entries(listeners)) events.addEventListener(type, fn);
  events.addEventListener("error", () => {
    const closed = events.readyState === EventSource.CLOSED;
    live.textContent = closed ? "not live" : "reconnecting…";
    live.className = "live";
    failures++;
    if (asked || (!closed && failures < FAILURES_BEFORE_ASKING)) return;
    asked = true;
    streamRefusal(url).then((why) => {
      if (events.readyState === EventSource.OPEN) return;
      const message = why ?? (closed ? "the event stream closed; reload the page to follow again" : null);
      if (message === null || !options.errorBox) return;
      shown = true;
      showError(options.errorBox, "not live: " + message);
    });
  });
  return events;
}

/**
 * True when the whole of name matches glob (\`*\` any run, \`?\` any one character): the
 * conductor's own function, as the runtime compiled it, so the page decides as the grants do.
 */
export const globMatch = ${globMatch.toString()};

export function splitTargets(text) {
  return text.split(/\\s+/).filter((t) => t !== "")
    .flatMap((t) => t.includes("=") ? [t] : t.split(",").filter((x) => x !== ""));
}

let mePromise = null;
/**
 * The answer of GET /v1/me, asked once: { me } with the caller and its own
 * grants, or { me: null, error } saying why it cannot be read.
 */
export function whoamiAnswer() {
  mePromise ??= fetch("/v1/me", { headers: { accept: "application/json" } })
    .then(async (res) => {
      const body = await res.json().catch(() => null);
      return res.ok && body !== null
        ? { me: body }
        : { me: null, error: body?.error?.message ?? ("the conductor answered " + res.status) };
    })
    .catch((err) => ({ me: null, error: "cannot reach the conductor: " + err.message }));
  return mePromise;
}

/** The caller and its own grants (GET /v1/me), asked once; null when it cannot be read. */
export function whoami() {
  return whoamiAnswer().then((a) => a.me);
}

/** True when one of me's grants allows verb. */
export function may(me, verb) {
  return me !== null && me.grants.some((g) => g.may.includes(verb));
}

// Every page's header: the links to pages behind a verb show only when a grant gives it.
whoami().then((me) => {
  for (const a of document.querySelectorAll("nav a[data-verb]")) {
    a.hidden = !may(me, a.dataset.verb);
  }
  // Says the header is settled (and as whom), for the page's tests and style.
  document.documentElement.dataset.caller = me?.caller ?? "";
});
`;

/**
 * What the pages share about a job's progress (an addition to
 * {@linkcode COMMON_JS}'s module, served with it): which task states are
 * final, and the bar of a job's tasks done, running, queued and offline.
 */
export const COMMON_PROGRESS_JS = `
/** Task states that are final: they count as done. */
export const FINAL_STATES = new Set([
  "succeeded", "failed", "timed_out", "cancelled", "interrupted", "rejected", "expired",
  "player_removed", "skipped",
]);

/** Done, running, queued and offline of a job's counts; offline ones are queued ones. */
export function splitCounts(counts, offline) {
  let done = 0;
  let running = 0;
  let queued = 0;
  for (const [state, n] of Object.entries(counts)) {
    if (FINAL_STATES.has(state)) done += n;
    else if (state === "running" || state === "assigned") running += n;
    else if (state === "queued") queued += n;
  }
  const off = Math.min(offline, queued);
  return { done, running, queued: queued - off, offline: off, total: done + running + queued };
}

/** Draws into el the bar of a job's counts, with the same counts as text. */
export function progressBar(el, counts, offline) {
  const p = splitCounts(counts, offline ?? 0);
  const bar = document.createElement("div");
  bar.className = "bar";
  bar.setAttribute("role", "img");
  const words = [];
  for (const part of ["done", "running", "queued", "offline"]) {
    words.push(p[part] + " " + part);
    if (p[part] === 0) continue;
    const seg = document.createElement("span");
    seg.className = "seg seg-" + part;
    // Set through the object model, which the page's style policy allows.
    seg.style.flexGrow = String(p[part]);
    bar.append(seg);
  }
  const text = p.done + " of " + p.total + " done · " + words.slice(1).join(" · ");
  bar.setAttribute("aria-label", text);
  const caption = document.createElement("span");
  caption.className = "bar-text";
  caption.textContent = text;
  el.replaceChildren(bar, caption);
  return p;
}
`;
