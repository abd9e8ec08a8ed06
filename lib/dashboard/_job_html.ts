import { page } from "./_page.ts";

/** The one-job page's HTML document (`/ui/job?id=N`); its script is `/ui/job.js`. */
export const JOB_HTML = page({
  title: "job",
  script: "/ui/job.js",
  current: null,
  live: true,
  main: `
  <h2 id="title">Job</h2>
  <p id="error" class="error" role="alert" hidden></p>
  <section id="job" aria-labelledby="title" hidden>
    <dl class="facts">
      <dt>Score</dt><dd id="score"></dd>
      <dt>Scope</dt><dd id="scope"></dd>
      <dt>Targets</dt><dd id="targets"></dd>
      <dt>Hosts</dt><dd id="hosts"></dd>
      <dt>Submitted</dt><dd id="submitted"></dd>
      <dt>Parameters</dt><dd id="params"></dd>
      <dt>Aggregate</dt><dd id="aggregate"></dd>
      <dt>Progress</dt><dd id="progress" class="progress"></dd>
    </dl>
    <p class="actions"><button id="cancel" type="button" class="danger" hidden>Cancel job</button></p>
    <p id="cancel-result" role="status" aria-live="polite"></p>
  </section>
  <dialog id="cancel-dialog" aria-labelledby="cancel-title">
    <h3 id="cancel-title">Cancel job?</h3>
    <p id="cancel-text"></p>
    <p class="actions">
      <button id="confirm-cancel" type="button" class="danger">Cancel job</button>
      <button id="keep-running" type="button" class="secondary" autofocus>Keep running</button>
    </p>
  </dialog>
  <section id="tasks-section" aria-labelledby="tasks-title" hidden>
    <h3 id="tasks-title">Tasks</h3>
    <form id="filter" role="search">
      <label for="state">State</label>
      <select id="state" name="state">
        <option value="">any</option>
        <option value="queued">queued</option>
        <option value="assigned">assigned</option>
        <option value="running">running</option>
        <option value="succeeded">succeeded</option>
        <option value="failed">failed</option>
        <option value="timed_out">timed_out</option>
        <option value="cancelled">cancelled</option>
        <option value="interrupted">interrupted</option>
        <option value="rejected">rejected</option>
        <option value="expired">expired</option>
        <option value="player_removed">player_removed</option>
        <option value="skipped">skipped</option>
      </select>
      <label for="host">Host</label>
      <input id="host" name="host" type="search" autocomplete="off" spellcheck="false"
        maxlength="253" placeholder="web1">
      <button type="submit">Filter</button>
    </form>
    <p id="summary" aria-live="polite"></p>
    <table id="tasks">
      <caption class="visually-hidden">Tasks of the job; choose a host to see its task</caption>
      <thead><tr>
        <th scope="col">Host</th><th scope="col">State</th><th scope="col">Attempt</th>
        <th scope="col">Outcome</th><th scope="col">Started</th><th scope="col">Finished</th>
        <th scope="col">Duration</th>
      </tr></thead>
      <tbody></tbody>
    </table>
    <nav aria-label="Pages of tasks" class="pages">
      <button id="prev" type="button" class="secondary" hidden>Previous</button>
      <button id="next" type="button" class="secondary" hidden>Next</button>
    </nav>
  </section>
  <section id="detail" aria-labelledby="detail-title" hidden>
    <h3 id="detail-title">Task</h3>
    <p id="detail-error" class="error" role="alert" hidden></p>
    <h4>Attempts</h4>
    <table id="attempts">
      <thead><tr>
        <th scope="col">Attempt</th><th scope="col">Player</th><th scope="col">Started</th>
        <th scope="col">Ended</th><th scope="col">Outcome</th><th scope="col">Exit code</th>
      </tr></thead>
      <tbody></tbody>
    </table>
    <h4>Response</h4>
    <p id="no-response">No response.</p>
    <table id="response">
      <thead><tr><th scope="col">Key</th><th scope="col">Value</th></tr></thead>
      <tbody></tbody>
    </table>
    <h4 id="stdout-title">Standard output</h4>
    <pre id="stdout" class="output" tabindex="0" aria-labelledby="stdout-title"></pre>
    <h4 id="stderr-title">Standard error</h4>
    <pre id="stderr" class="output" tabindex="0" aria-labelledby="stderr-title"></pre>
  </section>
`,
});
