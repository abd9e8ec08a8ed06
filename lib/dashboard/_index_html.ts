import { page } from "./_page.ts";

/** The dashboard's one HTML document; the page it shows is chosen by its script. */
export const INDEX_HTML = page({
  title: "fleet",
  script: "/ui/app.js",
  current: "/",
  live: true,
  main: `
  <h2>Fleet</h2>
  <form id="filter" role="search">
    <label for="target">Players matching</label>
    <input id="target" name="target" type="search" autocomplete="off" spellcheck="false"
      maxlength="4096" placeholder="web* role=db fact.os=linux" aria-describedby="target-help">
    <button type="submit">Filter</button>
    <p id="target-help" class="help">Names, globs (<code>web*</code>) or selectors
      (<code>role=web,dc!=mel</code>); separate several with spaces: any of them.</p>
  </form>
  <p id="error" class="error" role="alert" hidden></p>
  <p id="summary" aria-live="polite"></p>
  <nav class="pages" aria-label="Pages of players">
    <button id="prev" type="button" disabled>Previous</button>
    <span id="page-info" aria-live="polite"></span>
    <button id="next" type="button" disabled>Next</button>
  </nav>
  <table id="players">
    <caption class="visually-hidden">Players</caption>
    <thead><tr>
      <th scope="col">Name</th><th scope="col">State</th><th scope="col">Labels</th>
      <th scope="col">Slots in use</th><th scope="col">Last heartbeat</th><th scope="col">Version</th>
    </tr></thead>
    <tbody></tbody>
  </table>
`,
});
