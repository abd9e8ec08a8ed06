/**
 * The frame every dashboard document shares: head, skip link, header with
 * the pages' navigation, and the live indicator where the page follows
 * events. Each page gives its title, its script, which link is current and
 * its `<main>`'s content.
 */

/** The pages in the header, in order: path, label, and the verb a link needs to be shown. */
const PAGES = [
  { path: "/", label: "Fleet", verb: null },
  { path: "/ui/jobs", label: "Jobs", verb: null },
  { path: "/ui/submit", label: "Submit", verb: "submit" },
  { path: "/ui/audit", label: "Audit", verb: "audit" },
] as const;

/** What makes one document. */
export interface PageSpec {
  /** The `<title>` after "orch — ". */
  title: string;
  /** The page's ES module, e.g. `/ui/jobs.js`. */
  script: string;
  /** The header link of this page (marked current), or null for a page not in the header. */
  current: (typeof PAGES)[number]["path"] | null;
  /** Whether the page follows the event stream (shows the live indicator). */
  live: boolean;
  /** The content of `<main>`. */
  main: string;
}

/** One dashboard document. Links that need a verb start hidden; common.js shows them (`/v1/me`). */
export function page(spec: PageSpec): string {
  const links = PAGES.map((p) => {
    const verb = p.verb === null ? "" : ` data-verb="${p.verb}"`;
    const state = p.path === spec.current
      ? ` aria-current="page"`
      : p.verb === null
      ? ""
      : " hidden";
    return `<a href="${p.path}"${verb}${state}>${p.label}</a>`;
  }).join("");
  const live = spec.live
    ? `\n  <p id="live" class="live" role="status" aria-live="polite">connecting…</p>`
    : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>orch — ${spec.title}</title>
<link rel="stylesheet" href="/ui/style.css">
<script type="module" src="${spec.script}"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
  <h1>orch</h1>
  <nav aria-label="Pages">${links}</nav>${live}
</header>
<main id="main">
${spec.main.replace(/^\n+|\s+$/g, "")}
</main>
</body>
</html>
`;
}
