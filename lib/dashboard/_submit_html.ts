import { page } from "./_page.ts";

/** The submit page's HTML document (`/ui/submit`); its script is `/ui/submit.js`. */
export const SUBMIT_HTML = page({
  title: "submit",
  script: "/ui/submit.js",
  current: "/ui/submit",
  live: false,
  main: `
  <h2>Submit a job</h2>
  <form id="submit" class="stack" novalidate>
    <div class="field">
      <label for="score">Score</label>
      <input id="score" name="score" list="scores" autocomplete="off" spellcheck="false"
        maxlength="128" required aria-describedby="score-help">
      <datalist id="scores"></datalist>
      <p id="score-help" class="help">The scores the connected players announce that your grants let
        you submit; another name may be typed.</p>
    </div>
    <div class="field">
      <label for="targets">Targets</label>
      <input id="targets" name="targets" type="text" autocomplete="off" spellcheck="false"
        maxlength="4096" required placeholder="web* role=db fact.os=linux"
        aria-describedby="targets-help">
      <button type="button" id="preview-button">Preview</button>
      <p id="targets-help" class="help">Names, globs (<code>web*</code>) or selectors
        (<code>role=web,dc!=mel</code>); separate several with spaces.</p>
      <p id="preview" class="help" aria-live="polite"></p>
    </div>
    <fieldset>
      <legend>Scope</legend>
      <label><input type="radio" name="scope" value="all" checked> all of the targets</label>
      <label><input type="radio" name="scope" value="one"> one of them</label>
      <label><input type="radio" name="scope" value="some"> some of them:</label>
      <label for="some" class="visually-hidden">How many (a count, or a percentage such as 50%)</label>
      <input id="some" name="some" type="text" maxlength="8" size="6" placeholder="2 or 50%"
        autocomplete="off">
    </fieldset>
    <fieldset>
      <legend>Parameters</legend>
      <table id="params">
        <caption class="visually-hidden">Parameters</caption>
        <thead><tr><th scope="col">Name</th><th scope="col">Value</th><th scope="col">Secret</th>
          <th scope="col"><span class="visually-hidden">Remove</span></th></tr></thead>
        <tbody></tbody>
      </table>
      <button type="button" id="add-param">Add parameter</button>
    </fieldset>
    <fieldset>
      <legend>Options</legend>
      <label for="timeout">Timeout of each run (seconds)</label>
      <input id="timeout" name="timeout" type="number" min="1" step="1" placeholder="score's default">
      <label for="retries">Retries</label>
      <input id="retries" name="retries" type="number" min="0" max="100" step="1" placeholder="0">
      <label for="deadline">Start by</label>
      <input id="deadline" name="deadline" type="datetime-local">
      <label for="quorum">Quorum</label>
      <input id="quorum" name="quorum" type="number" min="1" step="1" placeholder="every task">
      <label for="batch">Batch</label>
      <input id="batch" name="batch" type="text" maxlength="8" size="6" placeholder="5 or 10%">
      <label for="max_errors">Stop after errors</label>
      <input id="max_errors" name="max_errors" type="text" maxlength="8" size="6"
        placeholder="1 or 5%">
    </fieldset>
    <p id="error" class="error" role="alert" hidden></p>
    <div><button type="submit" id="go">Submit</button></div>
  </form>
`,
});
