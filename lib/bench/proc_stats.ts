/**
 * What a process costs, read from Linux's /proc: CPU time (user + system)
 * and resident memory. Elsewhere every figure is null.
 *
 * @module
 */

/** AT_CLKTCK in the auxiliary vector: clock ticks per second, what /proc/PID/stat counts in. */
const AT_CLKTCK = 17n;

let ticksPerSecond: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`), from this process's auxiliary vector; 100 when unknown. */
export function clockTicks(): number {
  if (ticksPerSecond !== undefined) return ticksPerSecond;
  try {
    ticksPerSecond = clockTicksFrom(Deno.readFileSync("/proc/self/auxv")) ?? 100;
  } catch {
    // Not Linux, or not readable: the usual value.
    ticksPerSecond = 100;
  }
  return ticksPerSecond;
}

/** AT_CLKTCK from a 64-bit little-endian auxiliary vector (pairs of type and value), or undefined. */
export function clockTicksFrom(auxv: Uint8Array): number | undefined {
  const view = new DataView(auxv.buffer, auxv.byteOffset, auxv.byteLength);
  for (let off = 0; off + 16 <= auxv.byteLength; off += 16) {
    const type = view.getBigUint64(off, true);
    if (type === 0n) return undefined;
    if (type === AT_CLKTCK) {
      const v = Number(view.getBigUint64(off + 8, true));
      return v > 0 && v <= 1_000_000 ? v : undefined;
    }
  }
  return undefined;
}

/** CPU time process `pid` (or `"self"`) has used, user + system, in ms; null when unknown. */
export function cpuMs(pid: number | "self"): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name (which may hold spaces) start after the last ')', at field 3.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
    return ((utime + stime) * 1000) / clockTicks();
  } catch {
    return null;
  }
}

/** Resident memory of process `pid` (VmRSS), in KiB; null when unknown. */
export function rssKiB(pid: number | "self"): number | null {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = status.match(/^VmRSS:\s+(\d+)\s+kB$/m);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** CPU used by the conductor and by this process, and wall time, from one moment on. */
export class CpuMeter {
  readonly #pid: number;
  readonly #t0 = performance.now();
  readonly #child: number | null;
  readonly #self: number | null;

  constructor(pid: number) {
    this.#pid = pid;
    this.#child = cpuMs(pid);
    this.#self = cpuMs("self");
  }

  /** What was used since the meter was made. */
  read(): CpuUse {
    const wall = performance.now() - this.#t0;
    const child = cpuMs(this.#pid);
    const self = cpuMs("self");
    return {
      wall_ms: round(wall),
      conductor_ms: child === null || this.#child === null ? null : round(child - this.#child),
      bench_ms: self === null || this.#self === null ? null : round(self - this.#self),
    };
  }
}

/** CPU used during a phase. */
export interface CpuUse {
  /** Wall-clock time of the phase, ms. */
  wall_ms: number;
  /** CPU time (user + system) the conductor used, ms; null where /proc cannot be read. */
  conductor_ms: number | null;
  /** CPU time (user + system) the bench process itself used, ms; null where /proc cannot be read. */
  bench_ms: number | null;
}

/** `n` rounded to 0.1. */
export function round(n: number): number {
  return Math.round(n * 10) / 10;
}
