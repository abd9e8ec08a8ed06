import { assert, assertEquals } from "../../_helpers/assert.ts";
import { clockTicks, CpuMeter, cpuMs, rssKiB } from "../../../lib/bench/proc_stats.ts";
import { percentile } from "../../../lib/bench/phases.ts";

const linux = Deno.build.os === "linux";

Deno.test({
  name: "clock ticks per second are the system's (getconf CLK_TCK)",
  ignore: !linux,
  fn: async () => {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output()
      .catch(() => null);
    if (out === null || !out.success) return; // no getconf here: nothing to compare with
    assertEquals(clockTicks(), Number(new TextDecoder().decode(out.stdout).trim()));
  },
});

Deno.test({
  name: "CPU time grows by the work done, and memory is read for this process",
  ignore: !linux,
  fn: () => {
    const meter = new CpuMeter(Deno.pid);
    const before = cpuMs("self")!;
    // Busy for at least 300 ms of CPU: the counters move in 10 ms steps.
    const start = before;
    let x = 0;
    while (cpuMs("self")! - start < 300) for (let i = 0; i < 100_000; i++) x += i;
    assert(x > 0);
    const used = meter.read();
    assert(used.bench_ms !== null && used.bench_ms >= 300, `bench_ms ${used.bench_ms}`);
    assert(
      used.conductor_ms !== null && used.conductor_ms >= 300,
      `pid reading ${used.conductor_ms}`,
    );
    assert(used.wall_ms >= used.bench_ms! * 0.5);
    const rss = rssKiB(Deno.pid);
    assert(rss !== null && rss > 1024, `rss ${rss}`);
  },
});

Deno.test("figures for a process that does not exist are null", () => {
  assertEquals(cpuMs(2 ** 30), null);
  assertEquals(rssKiB(2 ** 30), null);
});

Deno.test("percentiles are nearest-rank", () => {
  const v = Array.from({ length: 200 }, (_, i) => i + 1);
  assertEquals(percentile(v, 50), 100);
  assertEquals(percentile(v, 99), 198);
  assertEquals(percentile(v, 100), 200);
  assertEquals(percentile([7], 99), 7);
  assertEquals(percentile([], 50), 0);
});
