/**
 * The strict exposition parser the metrics tests read scrapes with: it keeps
 * histogram labels and counts, reads what prom-client writes, and refuses
 * malformed text.
 */

import { Counter, Histogram, Registry } from "prom-client";
import { assertEquals, assertThrows } from "../_helpers/assert.ts";
import { parseExposition } from "../_helpers/prom_text.ts";

Deno.test("the exposition parser keeps a histogram's labels, buckets, count and sum", () => {
  const f = parseExposition(
    [
      "# HELP d_seconds How long.",
      "# TYPE d_seconds histogram",
      'd_seconds_bucket{le="0.5",score="a"} 1',
      'd_seconds_bucket{le="+Inf",score="a"} 2',
      'd_seconds_sum{score="a"} 3.5',
      'd_seconds_count{score="a"} 2',
      "# TYPE up gauge",
      'up{x="q\\"\\\\\\n"} 1 1700000000',
      "",
    ].join("\n"),
  ).get("d_seconds");
  assertEquals(f?.type, "histogram");
  assertEquals(f?.help, "How long.");
  assertEquals(f?.samples.find((s) => s.name === "d_seconds_count"), {
    name: "d_seconds_count",
    labels: { score: "a" },
    value: 2,
  });
  assertEquals(f?.samples.filter((s) => s.name === "d_seconds_bucket").length, 2);
});

Deno.test("the exposition parser reads what prom-client writes", async () => {
  const r = new Registry();
  new Counter({ name: "c_total", help: "c", labelNames: ["k"], registers: [r] }).inc({ k: 'a"b' });
  new Histogram({ name: "h_seconds", help: "h", labelNames: ["s"], registers: [r] }).observe(
    { s: "x" },
    0.2,
  );
  const m = parseExposition(await r.metrics());
  assertEquals(m.get("c_total")?.samples, [{ name: "c_total", labels: { k: 'a"b' }, value: 1 }]);
  assertEquals(m.get("h_seconds")?.samples.find((s) => s.name === "h_seconds_count")?.value, 1);
});

Deno.test("the exposition parser refuses malformed exposition, naming the line", () => {
  const bad: [string, RegExp][] = [
    ["up 1", /newline/],
    ["up{a=1} 1\n", /line 1: label a value not quoted/],
    ['up{a="1" 1\n', /line 1: expected , or }/],
    ["up one\n", /line 1: bad value "one"/],
    ["up 1 2 3\n", /line 1: bad sample/],
    ["# TYPE up gauges\n", /line 1: bad type/],
    ["up 1\nup 2\n", /line 2: sample up with the same labels twice/],
    ["up 1\n# TYPE up gauge\n", /line 2: TYPE of up again or after its samples/],
    ['{a="b"} 1\n', /line 1: sample without a metric name/],
    ['up{a="b\\x"} 1\n', /line 1: bad escape/],
    ['# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', /no le="\+Inf" bucket/],
    [
      '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n',
      /_count is not the \+Inf bucket/,
    ],
    [
      '# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n',
      /not cumulative/,
    ],
    ["# TYPE h histogram\nh_bucket 1\n", /line 2: bucket of h without le/],
  ];
  for (const [text, pattern] of bad) assertThrows(() => parseExposition(text), pattern);
});
