/** The dashboard's style sheet: system fonts, high contrast, fits a laptop screen. */
export const STYLE_CSS =
  `:root { color-scheme: light; --fg: #111; --bg: #fff; --muted: #444; --line: #ccc;
  --ok: #0a5c2b; --bad: #8a1111; --warn: #6b4a00; --accent: #0b4f9c; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1.5rem; align-items: baseline; padding: .5rem 1rem;
  border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.2rem; margin: 0; }
nav a { color: var(--accent); margin-right: 1rem; }
nav a[aria-current="page"] { font-weight: bold; text-decoration: none; }
.live { margin: 0 0 0 auto; color: var(--muted); }
.live.on { color: var(--ok); }
main { padding: .5rem 1rem 2rem; max-width: 90rem; }
h2 { font-size: 1.1rem; }
form { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
input[type="search"] { min-width: 20rem; padding: .3rem .4rem; font: inherit;
  border: 1px solid var(--muted); }
button { font: inherit; padding: .3rem .8rem; border: 1px solid var(--accent);
  background: var(--accent); color: #fff; cursor: pointer; }
:focus-visible { outline: 3px solid #f0a000; outline-offset: 2px; }
.help { flex-basis: 100%; margin: 0; color: var(--muted); font-size: .9rem; }
.error { color: var(--bad); font-weight: bold; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { background: #f2f2f2; }
td.num { font-variant-numeric: tabular-nums; }
.state-connected { color: var(--ok); font-weight: bold; }
.state-disconnected { color: var(--bad); font-weight: bold; }
.state-drained { color: var(--warn); }
.label { display: inline-block; margin: 0 .3rem .2rem 0; padding: 0 .3rem; border: 1px solid var(--line);
  font-family: ui-monospace, monospace; font-size: .85rem; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: .5rem; background: var(--bg); padding: .3rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
select { font: inherit; padding: .25rem .3rem; border: 1px solid var(--muted); background: var(--bg); }
input#score, input#submitted_by { min-width: 12rem; }
.agg { font-weight: bold; }
.agg-success { color: var(--ok); }
.agg-failure { color: var(--bad); }
.agg-partial { color: var(--warn); }
.agg-running { color: var(--accent); }
.agg-pending { color: var(--muted); }
td.progress { min-width: 16rem; }
.bar { display: flex; height: .8rem; border: 1px solid var(--muted); background: #f2f2f2; }
.seg-done { background: #2d2d2d; }
.seg-running { background: var(--accent); }
.seg-queued { background: #8c8c8c; }
.seg-offline { background: var(--bad); }
.bar-text { display: block; font-size: .85rem; color: var(--muted); font-variant-numeric: tabular-nums; }
nav.pages { margin-top: .8rem; }
form.stack { display: block; max-width: 60rem; }
form.stack .field { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin-bottom: .8rem; }
form.stack .field > label { min-width: 6rem; font-weight: bold; }
form.stack input[type="text"], form.stack input:not([type]), form.stack input[type="number"],
form.stack input[type="password"], form.stack input[type="datetime-local"] {
  padding: .3rem .4rem; font: inherit; border: 1px solid var(--muted); }
#score, #targets { min-width: 24rem; }
fieldset { border: 1px solid var(--line); margin: 0 0 .8rem; padding: .5rem .8rem; display: flex;
  flex-wrap: wrap; gap: .5rem; align-items: center; }
legend { font-weight: bold; padding: 0 .3rem; }
#params { width: auto; flex-basis: 100%; }
#params td { border-bottom: none; padding: .2rem .4rem .2rem 0; }
button.remove { background: var(--bg); color: var(--accent); }
button:disabled { opacity: .6; cursor: wait; }
.outcome-allowed { color: var(--ok); font-weight: bold; }
.outcome-refused { color: var(--bad); font-weight: bold; }
td.reason { max-width: 32rem; overflow-wrap: anywhere; }
[hidden] { display: none !important; }
`;

/** The one-job page's additions to {@linkcode STYLE_CSS}, served with it. */
export const JOB_STYLE_CSS =
  `dl.facts { display: grid; grid-template-columns: max-content 1fr max-content 1fr; gap: .2rem 1rem; margin: 0; }
dl.facts dt { font-weight: bold; }
dl.facts dd { margin: 0; }
dd.progress { max-width: 32rem; }
.actions { display: flex; gap: .5rem; margin: .5rem 0 0; }
#cancel-result:empty { display: none; }
button.danger { background: var(--bad); border-color: var(--bad); }
button.secondary { background: var(--bg); color: var(--accent); }
button:disabled { opacity: .6; cursor: default; }
button.link { background: none; border: none; padding: 0; color: var(--accent); text-decoration: underline;
  font-weight: bold; }
#tasks tr.selected th, #tasks tr.selected td { background: #e3edf9; }
#tasks tbody tr { cursor: pointer; }
.task-state { font-weight: bold; }
.st-succeeded { color: var(--ok); }
.st-failed, .st-timed_out, .st-rejected, .st-expired, .st-player_removed { color: var(--bad); }
.st-cancelled, .st-interrupted, .st-skipped { color: var(--warn); }
.st-running, .st-assigned { color: var(--accent); }
.st-queued { color: var(--muted); }
pre.output { max-height: 24rem; overflow: auto; margin: 0; padding: .5rem; background: #f6f6f6;
  border: 1px solid var(--line); font: .85rem/1.35 ui-monospace, monospace; white-space: pre-wrap;
  overflow-wrap: anywhere; }
h3 { font-size: 1.05rem; margin: 1rem 0 .4rem; }
h4 { font-size: .95rem; margin: 1rem 0 .3rem; }
dialog { border: 2px solid var(--fg); padding: 1rem 1.2rem; max-width: 36rem; }
dialog::backdrop { background: rgba(0, 0, 0, .4); }
#detail table, #tasks { margin-bottom: .5rem; }
`;
