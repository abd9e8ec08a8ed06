/**
 * What the release's launcher costs, and which `deno run` flags and which DENO_DIR make
 * `orch --version` start fastest: `make release` for this machine into a temp folder, then
 * each way of starting measured in interleaved rounds (so that the machine's load hits every
 * one alike), median and max, and the ratio of the median to an empty script's.
 *
 *   deno run -A tests/bench/launcher.ts [ROUNDS]
 *
 * Figures only; it never fails on timing.
 *
 * @module
 */

import { join } from "node:path";
import { ROOT } from "../_helpers/proc.ts";

const ROUNDS = Number(Deno.args[0] ?? 20);
const os = Deno.build.os;
const arch = Deno.build.arch === "x86_64" ? "x64" : "arm64";
const platform = `${os}-${arch}`;
const version = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).version as string;

const tmp = await Deno.makeTempDir({ prefix: "orch-bench-launcher-" });
try {
  const dist = join(tmp, "dist");
  const env = Deno.env.toObject();
  for (const k of ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"]) delete env[k];
  const made = await new Deno.Command("make", {
    args: [
      "-s",
      "-C",
      ROOT,
      "release",
      `PLATFORMS=${platform}`,
      `RELEASE_DIR=${dist}`,
      "GZIP_LEVEL=1",
    ],
    clearEnv: true,
    env,
    stdout: "null",
    stderr: "inherit",
  }).output();
  if (!made.success) throw new Error("make release failed");
  const top = `orch-${version}-${platform}`;
  const untar = await new Deno.Command("tar", {
    args: ["-xzf", join(dist, `${top}.tar.gz`), "-C", tmp],
  }).output();
  if (!untar.success) throw new Error("tar failed");
  const prefix = join(tmp, top);
  const deno = join(prefix, "lib/orch/deno");
  const main = join(prefix, "lib/orch/main.js");
  const empty = join(tmp, "empty.js");
  await Deno.writeTextFile(empty, 'console.log("0");\n');
  const codeCache = join(tmp, "deno-dir");
  const home = join(tmp, "home");
  await Deno.mkdir(home);
  const base = { PATH: "/usr/bin:/bin", HOME: home, DENO_DIR: codeCache };
  const quiet = ["--quiet", "--no-prompt"];
  const lean = ["--no-config", "--no-lock"];
  const shut = ["--no-remote", "--no-npm"];

  const ways: [string, string[], Record<string, string>][] = [
    ["empty script (deno run -A empty.js)", [deno, "run", "-A", ...quiet, empty], {}],
    ["deno run -A main.js --version", [deno, "run", "-A", ...quiet, main, "--version"], {}],
    [
      "  + --no-config --no-lock",
      [deno, "run", "-A", ...quiet, ...lean, main, "--version"],
      {},
    ],
    [
      "  + --no-remote --no-npm",
      [deno, "run", "-A", ...quiet, ...lean, ...shut, main, "--version"],
      {},
    ],
    [
      "  + --cached-only",
      [deno, "run", "-A", ...quiet, ...lean, ...shut, "--cached-only", main, "--version"],
      {},
    ],
    [
      "  + --no-code-cache",
      [deno, "run", "-A", ...quiet, ...lean, ...shut, "--no-code-cache", main, "--version"],
      {},
    ],
    [
      "  DENO_DIR not writable (no code cache kept)",
      [deno, "run", "-A", ...quiet, ...lean, ...shut, main, "--version"],
      { DENO_DIR: "/proc/orch-no-such-dir" },
    ],
    ["bin/orch --version (the launcher)", [join(prefix, "bin/orch"), "--version"], {}],
    [
      "bin/orch --version through a symbolic link",
      [join(tmp, "link-to-orch"), "--version"],
      {},
    ],
    [
      `orch-${platform} --version (the single file, unpacked)`,
      [join(dist, `orch-${platform}`), "--version"],
      { XDG_CACHE_HOME: join(tmp, "cache") },
    ],
  ];
  await Deno.symlink(join(prefix, "bin/orch"), join(tmp, "link-to-orch"));

  const times = new Map<string, number[]>(ways.map(([name]) => [name, []]));
  // One round to warm the code cache and unpack the single file, not counted.
  for (let round = 0; round <= ROUNDS; round++) {
    for (const [name, [cmd, ...args], extra] of ways) {
      const t0 = performance.now();
      const out = await new Deno.Command(cmd, {
        args,
        clearEnv: true,
        env: { ...base, ...extra },
        stdout: "null",
        stderr: "piped",
      }).output();
      const ms = performance.now() - t0;
      if (!out.success) {
        throw new Error(`${name} failed: ${new TextDecoder().decode(out.stderr)}`);
      }
      if (round > 0) times.get(name)!.push(ms);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const emptyMedian = median(times.get(ways[0][0])!);
  console.log(`start-up of orch ${version} from its release (${platform}), ${ROUNDS} rounds:`);
  console.log(`${"way".padEnd(58)} ${"median".padStart(8)} ${"max".padStart(8)}  ratio`);
  for (const [name, xs] of times) {
    const m = median(xs);
    console.log(
      `${name.padEnd(58)} ${m.toFixed(1).padStart(6)}ms ${
        Math.max(...xs).toFixed(1).padStart(6)
      }ms  ${(m / emptyMedian).toFixed(2)}×`,
    );
  }
} finally {
  await Deno.remove(tmp, { recursive: true });
}
