import { page } from "./_page.ts";

/** The jobs page's HTML document (`/ui/jobs`); its script is `/ui/jobs.js`. */
export const JOBS_HTML = page({
  title: "jobs",
  script: "/ui/jobs.js",
  current: "/ui/jobs",
  live: true,
  main: `
  <h2>Jobs</h2>
  <form id="filter" role="search" method="get" action="/ui/jobs">
    <label for="state">State</label>
    <select id="state" name="state">
      <option value="">any</option>
      <option value="open">open</option>
      <option value="finished">finished</option>
      <option value="pending">pending</option>
      <option value="running">running</option>
      <option value="success">success</option>
      <option value="partial">partial</option>
      <option value="failure">failure</option>
    </select>
    <label for="score">Score</label>
    <input id="score" name="score" type="search" autocomplete="off" spellcheck="false"
      maxlength="128" placeholder="deploy">
    <label for="submitted_by">Submitted by</label>
    <input id="submitted_by" name="submitted_by" type="search" autocomplete="off"
      spellcheck="false" maxlength="256" placeholder="audience:alice">
    <button type="submit">Filter</button>
  </form>
  <p id="error" class="error" role="alert" hidden></p>
  <p id="summary" aria-live="polite"></p>
  <table id="jobs">
    <caption class="visually-hidden">Jobs, newest first</caption>
    <thead><tr>
      <th scope="col">Job</th><th scope="col">Score</th><th scope="col">Scope</th>
      <th scope="col">Targets</th><th scope="col">Submitted by</th><th scope="col">Submitted</th>
      <th scope="col">Aggregate</th><th scope="col">Progress</th>
    </tr></thead>
    <tbody></tbody>
  </table>
  <nav aria-label="Older and newer jobs" class="pages">
    <a id="newest" href="/ui/jobs" hidden>Newest</a>
    <a id="older" href="/ui/jobs" hidden>Older</a>
  </nav>
`,
});
