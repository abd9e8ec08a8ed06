/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4)
 * for tests. The one parser on npm (`parse-prometheus-text-format`) drops a
 * histogram's labels and its `_count`, and accepts malformed lines; this one
 * keeps every sample with its labels and throws a `SyntaxError` naming the
 * line on anything the format does not allow.
 *
 * @module
 */

/** One sample line: its full name (`x_bucket`, `x_count` …), labels and value. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A metric family: the `# TYPE`/`# HELP` name and every sample under it. */
export interface PromFamily {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string;
  samples: PromSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);
const SUFFIXES: Record<string, string[]> = {
  histogram: ["_bucket", "_count", "_sum"],
  summary: ["_count", "_sum"],
};

function fail(line: number, what: string): never {
  throw new SyntaxError(`exposition line ${line}: ${what}`);
}

/** A value as Prometheus reads it (Go's ParseFloat: `NaN`, `Inf` in any case; prom-client writes `Nan`). */
function parseValue(s: string, line: number): number {
  if (/^\+?inf$/i.test(s)) return Infinity;
  if (/^-inf$/i.test(s)) return -Infinity;
  if (/^nan$/i.test(s)) return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) {
    fail(line, `bad value ${JSON.stringify(s)}`);
  }
  return Number(s);
}

/** Parses `{a="x",b="y"}` starting at `text[0] === "{"`; returns labels and the rest. */
function parseLabels(text: string, line: number): [Record<string, string>, string] {
  const labels: Record<string, string> = {};
  let i = 1;
  for (;;) {
    if (text[i] === "}") return [labels, text.slice(i + 1)];
    const eq = text.indexOf("=", i);
    if (eq < 0) fail(line, "label without =");
    const key = text.slice(i, eq);
    if (!LABEL.test(key)) fail(line, `bad label name ${JSON.stringify(key)}`);
    if (key in labels) fail(line, `label ${key} twice`);
    if (text[eq + 1] !== '"') fail(line, `label ${key} value not quoted`);
    let v = "";
    let j = eq + 2;
    for (;; j++) {
      const ch = text[j];
      if (ch === undefined) fail(line, `label ${key} value not closed`);
      if (ch === '"') break;
      if (ch === "\\") {
        const e = text[++j];
        if (e === "n") v += "\n";
        else if (e === "\\" || e === '"') v += e;
        else fail(line, `bad escape in label ${key}`);
      } else v += ch;
    }
    labels[key] = v;
    i = j + 1;
    if (text[i] === ",") i++;
    else if (text[i] !== "}") fail(line, `expected , or } after label ${key}`);
  }
}

function familyOf(name: string, families: Map<string, PromFamily>): PromFamily | undefined {
  const own = families.get(name);
  if (own && own.type !== "histogram" && own.type !== "summary") return own;
  for (const [type, suffixes] of Object.entries(SUFFIXES)) {
    for (const s of suffixes) {
      if (!name.endsWith(s)) continue;
      const f = families.get(name.slice(0, -s.length));
      if (f?.type === type) return f;
    }
  }
  // A summary's quantile samples carry the family's own name.
  if (own?.type === "summary") return own;
  return undefined;
}

function checkHistogram(f: PromFamily): void {
  const groups = new Map<string, PromSample[]>();
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    groups.set(key, [...groups.get(key) ?? [], s]);
  }
  for (const [key, samples] of groups) {
    const buckets = samples.filter((s) => s.name === `${f.name}_bucket`);
    const count = samples.find((s) => s.name === `${f.name}_count`);
    const inf = buckets.find((s) => s.labels.le === "+Inf");
    if (!inf) throw new SyntaxError(`histogram ${f.name} ${key} has no le="+Inf" bucket`);
    if (!count) throw new SyntaxError(`histogram ${f.name} ${key} has no _count`);
    if (!samples.some((s) => s.name === `${f.name}_sum`)) {
      throw new SyntaxError(`histogram ${f.name} ${key} has no _sum`);
    }
    if (count.value !== inf.value) {
      throw new SyntaxError(`histogram ${f.name} ${key}: _count is not the +Inf bucket`);
    }
    let prev = -Infinity;
    let prevLe = -Infinity;
    for (const b of buckets) {
      const le = parseValue(b.labels.le ?? "", 0);
      if (le <= prevLe || b.value < prev) {
        throw new SyntaxError(`histogram ${f.name} ${key}: buckets not cumulative in order`);
      }
      prev = b.value;
      prevLe = le;
    }
  }
}

/**
 * Parses an exposition into its families by name.
 *
 * @throws SyntaxError on any malformed line, a sample repeated, a `# TYPE`
 *   after its samples, or a histogram whose buckets, `_count` and `_sum` do
 *   not agree.
 */
export function parseExposition(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const seen = new Set<string>();
  if (text !== "" && !text.endsWith("\n")) fail(0, "does not end with a newline");
  const lines = text.split("\n");
  lines.pop();
  lines.forEach((raw, idx) => {
    const n = idx + 1;
    const line = raw.trim();
    if (line === "") return;
    if (line.startsWith("#")) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(line);
      if (!m) return; // a comment
      const [, kind, name, rest = ""] = m;
      if (!NAME.test(name)) fail(n, `bad metric name ${JSON.stringify(name)}`);
      let f = families.get(name);
      if (kind === "TYPE") {
        if (!TYPES.has(rest)) fail(n, `bad type ${JSON.stringify(rest)}`);
        if (f && (f.samples.length > 0 || f.type !== "untyped")) {
          fail(n, `TYPE of ${name} again or after its samples`);
        }
        if (!f) families.set(name, f = { name, type: "untyped", help: "", samples: [] });
        f.type = rest as PromFamily["type"];
      } else {
        if (f?.help) fail(n, `HELP of ${name} twice`);
        if (!f) families.set(name, f = { name, type: "untyped", help: "", samples: [] });
        f.help = rest.replace(/\\(n|\\)/g, (_, e) => e === "n" ? "\n" : "\\");
      }
      return;
    }
    const nm = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nm) fail(n, "sample without a metric name");
    const name = nm[0];
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith("{")) [labels, rest] = parseLabels(rest, n);
    const parts = rest.trim().split(/\s+/);
    if (!/^\s/.test(rest) || parts.length < 1 || parts.length > 2) {
      fail(n, `bad sample ${JSON.stringify(raw)}`);
    }
    if (parts.length === 2 && !/^-?\d+$/.test(parts[1])) fail(n, "bad timestamp");
    const value = parseValue(parts[0], n);
    let f = familyOf(name, families);
    if (!f) families.set(name, f = { name, type: "untyped", help: "", samples: [] });
    if (f.type === "histogram" && name === `${f.name}_bucket` && !("le" in labels)) {
      fail(n, `bucket of ${f.name} without le`);
    }
    const key = name + JSON.stringify(Object.entries(labels).sort());
    if (seen.has(key)) fail(n, `sample ${name} with the same labels twice`);
    seen.add(key);
    f.samples.push({ name, labels, value });
  });
  for (const f of families.values()) if (f.type === "histogram") checkHistogram(f);
  return families;
}

/**
 * Checks `text` with Prometheus's own parser and linter (`promtool check
 * metrics`, from Debian's prometheus package; `.ci/run` installs it): fails
 * with promtool's words when it cannot parse the exposition or finds a name,
 * unit or suffix against Prometheus's conventions.
 */
export async function promtoolCheck(text: string, what: string): Promise<void> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(
        "promtool is not installed (bash .ci/run installs it from Debian's prometheus)",
      );
    }
    throw err;
  }
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const out = await child.output();
  const said = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (out.code !== 0) {
    throw new Error(`promtool check metrics refused ${what} (exit ${out.code}):\n${said}`);
  }
}
