import { page } from "./_page.ts";

/** The audit page's HTML document (`/ui/audit`); its script is `/ui/audit.js`. */
export const AUDIT_HTML = page({
  title: "audit",
  script: "/ui/audit.js",
  current: "/ui/audit",
  live: false,
  main: `
  <h2>Audit trail</h2>
  <form id="filter" role="search" method="get" action="/ui/audit">
    <label for="who">Who</label>
    <input id="who" name="who" type="search" autocomplete="off" spellcheck="false"
      maxlength="262" placeholder="audience:alice">
    <label for="since">Since</label>
    <input id="since" name="since" type="datetime-local">
    <button type="submit">Filter</button>
    <button type="button" id="refresh">Refresh</button>
  </form>
  <p id="error" class="error" role="alert" hidden></p>
  <p id="summary" aria-live="polite"></p>
  <table id="audit">
    <caption class="visually-hidden">Audit records, newest first</caption>
    <thead><tr>
      <th scope="col">Time</th><th scope="col">Who</th><th scope="col">Action</th>
      <th scope="col">Outcome</th><th scope="col">About</th><th scope="col">Reason</th>
      <th scope="col">From</th>
    </tr></thead>
    <tbody></tbody>
  </table>
  <nav aria-label="Older and newer records" class="pages">
    <a id="newest" href="/ui/audit" hidden>Newest</a>
    <a id="older" href="/ui/audit" hidden>Older</a>
  </nav>
`,
});
