import process from "node:process";
import { assert, assertEquals } from "../../_helpers/assert.ts";
import {
  clockTicks,
  clockTicksFrom,
  CpuMeter,
  cpuMs,
  rssKiB,
} from "../../../lib/bench/proc_stats.ts";
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
  name: "CPU time is user plus system time, as the process itself counts it",
  ignore: !linux,
  fn: () => {
    // /proc counts in clock ticks (10 ms here), each thread's rounded down on its own: a reading
    // may be off by a tick per thread of this process (other test files run on threads of it).
    const threads = Number(
      /^Threads:\s+(\d+)/m.exec(Deno.readTextFileSync("/proc/self/status"))?.[1],
    );
    const slack = 10 * (Number.isFinite(threads) ? threads + 2 : 64);
    const meter = new CpuMeter(Deno.pid);
    const before = process.cpuUsage();
    // System time (file system calls), then user time (arithmetic): both must be counted, each
    // well beyond the slack, so that a meter that misses either is caught.
    while (process.cpuUsage(before).system < 3 * slack * 1000) {
      for (let i = 0; i < 10_000; i++) Deno.statSync("/proc/self");
    }
    let x = 0;
    do {
      for (let i = 0; i < 1_000_000; i++) x += i;
    } while (process.cpuUsage(before).user < 3 * slack * 1000);
    assert(x > 0);
    // Other threads of this process (other tests) may run between two readings: the meter's
    // reading is bracketed by two of the process's own.
    const early = process.cpuUsage(before);
    const used = meter.read();
    const late = process.cpuUsage(before);
    const low = (early.user + early.system) / 1000;
    const high = (late.user + late.system) / 1000;
    for (const got of [used.bench_ms, used.conductor_ms]) {
      assert(
        got !== null && got >= low - slack && got <= high + slack,
        `${got} ms read, between ${low} and ${high} ms used (± ${slack} ms)`,
      );
    }
    const rss = rssKiB(Deno.pid);
    assert(rss !== null && rss > 1024, `rss ${rss}`);
  },
});

Deno.test("clock ticks are read from the auxiliary vector's AT_CLKTCK entry", () => {
  const auxv = (pairs: [number, number][]) => {
    const b = new Uint8Array(pairs.length * 16);
    const v = new DataView(b.buffer);
    pairs.forEach(([t, x], i) => {
      v.setBigUint64(i * 16, BigInt(t), true);
      v.setBigUint64(i * 16 + 8, BigInt(x), true);
    });
    return b;
  };
  assertEquals(clockTicksFrom(auxv([[6, 4096], [16, 0xbfebfbff], [17, 250], [0, 0]])), 250);
  assertEquals(clockTicksFrom(auxv([[6, 4096], [0, 0], [17, 250]])), undefined);
  assertEquals(clockTicksFrom(auxv([[6, 4096]])), undefined);
  assertEquals(clockTicksFrom(auxv([[17, 0]])), undefined);
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
