/** The audit page's HTML document (`/ui/audit`); its script is `/ui/audit.js`. */
export const AUDIT_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>orch — audit</title>
<link rel="stylesheet" href="/ui/style.css">
<script type="module" src="/ui/audit.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
  <h1>orch</h1>
  <nav aria-label="Pages"><a href="/">Fleet</a><a href="/ui/jobs">Jobs</a><a href="/ui/submit" data-verb="submit" hidden>Submit</a><a href="/ui/audit" data-verb="audit" aria-current="page">Audit</a></nav>
</header>
<main id="main">
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
</main>
</body>
</html>
`;
