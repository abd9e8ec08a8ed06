/**
 * The release as an operator gets it: `make release` for this machine's platform, into a temp
 * folder; the archive unpacked in an empty folder and run with no Deno on PATH (a CA, a
 * conductor and a player configured by the example files, a job); the single file copied
 * alone and run as a player, its cache reused, refused or unpacked again; the systemd units
 * and the sysusers file checked by systemd's own tools.
 */

import { join } from "node:path";
import { AudienceClient } from "../../lib/client/mod.ts";
import { assert, assertEquals, assertMatch, assertNotMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { Proc, ROOT, tempDir, until } from "../_helpers/proc.ts";

/** Only /usr/bin and /bin: no deno on PATH. */
const BARE_PATH = "/usr/bin:/bin";
/** The release's time (2023-11-14), fixed so that two builds can be compared byte for byte. */
const EPOCH = 1_700_000_000;

/** This machine's platform as releases name it, or null when the npm deno package has none. */
function platform(): string | null {
  const os = Deno.build.os === "linux" || Deno.build.os === "darwin" ? Deno.build.os : null;
  const arch = Deno.build.arch === "x86_64"
    ? "x64"
    : Deno.build.arch === "aarch64"
    ? "arm64"
    : null;
  return os && arch ? `${os}-${arch}` : null;
}
const PLATFORM = platform();

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd` to its end with only `env` (and PATH=/usr/bin:/bin) in its environment. */
async function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Ran> {
  const out = await new Deno.Command(cmd, {
    args,
    clearEnv: true,
    env: { PATH: BARE_PATH, NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs `cmd` and fails unless it exits 0; returns its stdout. */
async function ok(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await run(cmd, args, env);
  assertEquals(r.code, 0, `${cmd} ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** `env -i` with these variables, to put before a command run by {@linkcode Proc}. */
function bareEnv(env: Record<string, string>): string[] {
  const vars = { PATH: BARE_PATH, NO_COLOR: "1", ...env };
  return ["/usr/bin/env", "-i", ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)];
}

/** `make release` for this platform into `out`, with the test's fixed time. */
async function makeRelease(out: string): Promise<void> {
  const env = Deno.env.toObject();
  // An outer make's jobserver and flags are not this one's.
  for (const k of ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"]) delete env[k];
  const r = await new Deno.Command("make", {
    args: [
      "-s",
      "-C",
      ROOT,
      "release",
      `PLATFORMS=${PLATFORM}`,
      `RELEASE_DIR=${out}`,
      // The fastest gzip: the same files, the test's time is better spent running them.
      "GZIP_LEVEL=1",
    ],
    clearEnv: true,
    env: { ...env, SOURCE_DATE_EPOCH: String(EPOCH) },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assertEquals(r.code, 0, `make release failed: ${dec.decode(r.stdout)}${dec.decode(r.stderr)}`);
}

/** SHA256SUMS as a map from file name to hash. */
async function sums(dir: string): Promise<Map<string, string>> {
  const text = await Deno.readTextFile(join(dir, "SHA256SUMS"));
  return new Map(
    text.trim().split("\n").map((l) => {
      const [hash, name] = l.split(/\s+\*?/);
      return [name, hash];
    }),
  );
}

/** The example file `name`, with the folders of a system moved into `box`. */
async function example(prefix: string, name: string, box: string): Promise<string> {
  const text = await Deno.readTextFile(join(prefix, "share/examples", name));
  return text
    .replaceAll("/etc/orchestra/", `${box}/etc/orchestra/`)
    .replaceAll("/var/lib/orchestra/", `${box}/var/lib/orchestra/`)
    .replaceAll("/run/orchestra/", `${box}/run/orchestra/`)
    .replaceAll("/usr/lib/orchestra/scores", join(ROOT, "scores"))
    .replaceAll("0.0.0.0:2258", "127.0.0.1:0")
    .replaceAll("0.0.0.0:2259", "127.0.0.1:0");
}

Deno.test({
  name: "the release",
  ignore: PLATFORM === null,
  async fn(t) {
    await using tmp = await tempDir();
    const dist = join(tmp.path, "dist");
    await makeRelease(dist);
    const version = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).version as string;
    const top = `orch-${version}-${PLATFORM}`;
    const archive = join(dist, `${top}.tar.gz`);
    const single = join(dist, `orch-${PLATFORM}`);
    const sum = (await sums(dist)).get(`${top}.tar.gz`)!;
    assertMatch(sum, /^[0-9a-f]{64}$/);

    await t.step("make release writes the same bytes twice", async () => {
      const again = join(tmp.path, "again");
      await makeRelease(again);
      assertEquals(await sums(again), await sums(dist));
    });

    await t.step("the archive's entries are root's, sorted, with the release's time", async () => {
      const listing = await ok("tar", ["-tvzf", archive, "--numeric-owner", "--full-time"], {
        TZ: "UTC",
      });
      const lines = listing.trim().split("\n");
      const names: string[] = [];
      for (const line of lines) {
        const [mode, owner, , day, time, name] = line.split(/\s+/);
        assertEquals(owner, "0/0", line);
        assertEquals(`${day} ${time}`, "2023-11-14 22:13:20", line);
        assertNotMatch(mode, /^.{5}w|^.{8}w/, line);
        assert(name.startsWith(`${top}/`), line);
        names.push(name);
      }
      assertEquals(names, [...names].sort(), "names in order");
      for (
        const path of [
          "bin/orch",
          "lib/orch/deno",
          "lib/orch/main.js",
          "share/systemd/orch-conductor.service",
          "share/systemd/orch-player.service",
          "share/sysusers.d/orch.conf",
          "share/examples/conductor.yaml",
          "share/examples/player.yaml",
          "share/examples/client.yaml",
          "share/examples/grants.yaml",
          "share/doc/orch/LICENSE.deno",
          "share/doc/orch/THIRD-PARTY-NOTICES",
          "INSTALL",
        ]
      ) assert(names.includes(`${top}/${path}`), `the archive holds ${path}`);
      const generated = [
        "share/completions/orch.bash",
        "share/completions/_orch",
        "share/completions/orch.fish",
        "share/man/man1/orch.1",
      ];
      for (const path of generated) {
        assert(names.includes(`${top}/${path}`), `the archive holds ${path}`);
      }
    });

    // One unpacked copy serves the steps below.
    const box = join(tmp.path, "box");
    await Deno.mkdir(box);
    await ok("tar", ["-xzf", archive, "-C", box]);
    const prefix = join(box, top);
    const bin = join(prefix, "bin/orch");

    await t.step("the bundle names no path of the build machine", async () => {
      for await (const e of Deno.readDir(join(prefix, "lib/orch"))) {
        if (!e.name.endsWith(".js")) continue;
        const js = await Deno.readTextFile(join(prefix, "lib/orch", e.name));
        assert(!js.includes(ROOT.replace(/\/$/, "")), `${e.name} names ${ROOT}`);
        assert(!js.includes("/.cache/deno/"), `${e.name} names Deno's cache`);
      }
    });

    await t.step("bin/orch runs from the archive, and through symbolic links to it", async () => {
      const home = join(box, "home");
      await Deno.mkdir(home);
      assertMatch(await ok(bin, ["--version"], { HOME: home }), new RegExp(`\\b${version}\\b`));
      // /opt/orch -> orch-VERSION-PLATFORM, /usr/local/bin/orch -> /opt/orch/bin/orch
      await Deno.mkdir(join(box, "opt"));
      await Deno.symlink(`../${top}`, join(box, "opt/orch"));
      await Deno.mkdir(join(box, "usr/local/bin"), { recursive: true });
      await Deno.symlink(join(box, "opt/orch/bin/orch"), join(box, "usr/local/bin/orch"));
      const linked = await ok(join(box, "usr/local/bin/orch"), ["--version"], { HOME: home });
      assertMatch(linked, new RegExp(`\\b${version}\\b`));
    });

    await t.step(
      "the archive runs a CA, a conductor and a player configured by its examples, and a job",
      async () => {
        const home = join(box, "home");
        const env = { HOME: home };
        const etc = join(box, "etc/orchestra");
        const ca = join(box, "ca");
        for (const d of [etc, join(box, "var/lib/orchestra"), join(box, "run/orchestra")]) {
          await Deno.mkdir(d, { recursive: true });
        }
        await ok(bin, ["ca", "init", ca], env);
        const issue = (name: string, role: string, ...more: string[]) =>
          ok(bin, ["ca", "issue", name, "--role", role, "--ca-dir", ca, ...more], env);
        await issue("conductor.example.com", "conductor", "--san", "127.0.0.1");
        await issue("web1.example.com", "player");
        await issue("alice", "audience");
        const place = [
          ["ca.crt", "ca.crt"],
          ["conductor.example.com.crt", "conductor.crt"],
          ["conductor.example.com.key", "conductor.key"],
          ["web1.example.com.crt", "player.crt"],
          ["web1.example.com.key", "player.key"],
        ];
        for (const [from, to] of place) await Deno.copyFile(join(ca, from), join(etc, to));
        await Deno.writeTextFile(join(etc, "players"), "web1.example.com role=web\n");
        await Deno.writeTextFile(
          join(etc, "conductor.yaml"),
          await example(prefix, "conductor.yaml", box),
        );
        await Deno.writeTextFile(
          join(etc, "grants.yaml"),
          await example(prefix, "grants.yaml", box),
        );

        const procs: Proc[] = [];
        try {
          const conductor = new Proc(
            "release-conductor",
            ["conductor", "--config", join(etc, "conductor.yaml"), "--init"],
            { entry: bin, wrap: bareEnv(env) },
          );
          procs.push(conductor);
          const m = await conductor.waitFor(
            /conductor ready players=[^ ]*:(\d+) audience=[^ ]*:(\d+)/,
            30_000,
          );
          const player = await example(prefix, "player.yaml", box);
          assertMatch(player, /conductor\.example\.com:2258/);
          await Deno.writeTextFile(
            join(etc, "player.yaml"),
            player.replace("conductor.example.com:2258", `127.0.0.1:${m[1]}`),
          );
          procs.push(
            new Proc(
              "release-player",
              ["player", "--config", join(etc, "player.yaml"), "--name", "web1.example.com"],
              { entry: bin, wrap: bareEnv(env) },
            ),
          );
          const socket = join(box, "run/orchestra/audience.sock");
          const client = new AudienceClient({ kind: "socket", path: socket });
          await until("web1 connected", async () => {
            const players = await client.players();
            return players.some((p) => p.name === "web1.example.com" && p.connected);
          }, 30_000);

          const r = await run(
            bin,
            ["submit", "hello", "--all", "--target", "web1.example.com", "NAME=release", "--wait"],
            { ...env, ORCH_SOCKET: socket },
          );
          assertEquals(r.code, 0, r.stdout + r.stderr);
          assertMatch(r.stdout, /greeting=hello, release from web1\.example\.com/);

          // The audience over HTTPS, configured by the example client file.
          const dir = join(box, "client");
          await Deno.mkdir(dir);
          for (const f of ["ca.crt", "alice.crt", "alice.key"]) {
            await Deno.copyFile(join(ca, f), join(dir, f));
          }
          const text = await Deno.readTextFile(join(prefix, "share/examples/client.yaml"));
          assertMatch(text, /conductor\.example\.com:2259/);
          await Deno.writeTextFile(
            join(dir, "client.yaml"),
            text.replace("conductor.example.com:2259", `127.0.0.1:${m[2]}`),
          );
          const jobs = await run(bin, ["jobs", "--json"], {
            ...env,
            ORCH_CLIENT_CONFIG: join(dir, "client.yaml"),
          });
          assertEquals(jobs.code, 0, jobs.stderr);
          assertMatch(jobs.stdout, /"score":\s*"hello"/);
          // Both stop cleanly on SIGTERM, the player first.
          for (const p of [...procs].reverse()) {
            const status = await p.stop(10_000);
            assertEquals(status.code, 0, `${p.name} stopped with ${status.code}: ${p.log}`);
          }
        } finally {
          await Promise.all(procs.map((p) => p.stop(3_000)));
        }
      },
    );

    await t.step("the systemd units and the sysusers file pass systemd's checks", async () => {
      const units = join(tmp.path, "units");
      await Deno.mkdir(units);
      const files: string[] = [];
      for (const name of ["orch-conductor.service", "orch-player.service"]) {
        const text = await Deno.readTextFile(join(prefix, "share/systemd", name));
        assert(text.includes("/opt/orch/bin/orch"), `${name} runs /opt/orch/bin/orch`);
        // Where the archive is installed here; verify checks that the command exists.
        await Deno.writeTextFile(join(units, name), text.replaceAll("/opt/orch/", `${prefix}/`));
        files.push(join(units, name));
      }
      const analyze = await run("systemd-analyze", ["verify", "--man=no", ...files]).catch(
        (err) => {
          throw new Error(`systemd-analyze is needed (Debian package systemd): ${err}`);
        },
      );
      // verify exits 0 after warnings (an unknown key, a bad value): none is allowed.
      assertEquals(analyze.code, 0, analyze.stderr);
      assertEquals(analyze.stderr.trim(), "");

      const root = join(tmp.path, "sysroot");
      await Deno.mkdir(join(root, "etc"), { recursive: true });
      const sysusers = await run("systemd-sysusers", [
        `--root=${root}`,
        "--dry-run",
        join(prefix, "share/sysusers.d/orch.conf"),
      ]);
      assertEquals(sysusers.code, 0, sysusers.stderr);
      assertMatch(sysusers.stdout + sysusers.stderr, /Creating user '?orch'?/);
    });

    await t.step(
      "the single file, alone in an empty folder, runs a player, and unpacks once",
      async () => {
        await using c = await Cluster.create({ players: ["solo"] });
        await c.startConductor();
        const node = join(tmp.path, "node");
        await Deno.mkdir(join(node, "home"), { recursive: true });
        const file = join(node, `orch-${PLATFORM}`);
        await Deno.copyFile(single, file);
        const env = { HOME: join(node, "home"), XDG_CACHE_HOME: join(node, "cache") };
        const player = c.track(
          new Proc("solo", c.playerArgs("solo"), { entry: file, wrap: bareEnv(env) }),
        );
        c.players.set("solo", player);
        // Unpacking comes first, and takes seconds on a busy machine.
        await player.waitFor(/unpacked orch/, 60_000);
        await c.waitConnected("solo");
        const id = await c.client.submit({
          score: "hello",
          scope: "all",
          targets: ["solo"],
          params: { NAME: "one file" },
        });
        const job = await c.wait(id);
        assertEquals(job.aggregate, "success", JSON.stringify(job));
        await player.stop();
        const cached = join(node, "cache/orch", sum);
        assertEquals(
          player.lines.filter((l) => l.includes(`unpacked orch ${version}`)).length,
          1,
          player.log,
        );
        assert(
          player.log.includes(`unpacked orch ${version} (${PLATFORM}) into ${cached}`),
          player.log,
        );

        // The second run uses the same folder as it is.
        const before = await Deno.stat(cached);
        const again = await run(file, ["--version"], env);
        assertEquals(again.code, 0, again.stderr);
        assertMatch(again.stdout, new RegExp(`\\b${version}\\b`));
        assertEquals(again.stderr, "");
        assertEquals((await Deno.stat(cached)).ino, before.ino);
        const entries = [...Deno.readDirSync(join(node, "cache/orch"))].map((e) => e.name).sort();
        assertEquals(entries, [sum, "deno"]);
      },
    );

    await t.step(
      "a changed, missing or added file, or a folder others may write, in the cache is found and unpacked again",
      async () => {
        const env = {
          HOME: join(tmp.path, "node/home"),
          XDG_CACHE_HOME: join(tmp.path, "node/cache"),
        };
        const file = join(tmp.path, "node", `orch-${PLATFORM}`);
        const cached = join(tmp.path, "node/cache/orch", sum);
        const main = join(cached, "lib/orch/main.js");
        const original = await Deno.readFile(main);
        const tamper: [string, () => Promise<void>][] = [
          ["a line added to main.js", () => Deno.writeTextFile(main, "\n;", { append: true })],
          ["a byte of main.js changed in place", async () => {
            const f = await Deno.open(main, { write: true });
            await f.seek(100, Deno.SeekMode.Start);
            await f.write(new Uint8Array([0x20]));
            f.close();
          }],
          ["the runtime gone", () => Deno.remove(join(cached, "lib/orch/deno"))],
          ["a hidden file added", () => Deno.writeTextFile(join(cached, "lib/orch/.extra.js"), "")],
          ["the folder made writable by others", () => Deno.chmod(cached, 0o757)],
        ];
        for (const [what, change] of tamper) {
          await change();
          const r = await run(file, ["--version"], env);
          assertEquals(r.code, 0, `${what}: ${r.stderr}`);
          assertMatch(r.stderr, /is not as unpacked .*; unpacking again/, what);
          assertMatch(r.stderr, /unpacked orch/, what);
          assertEquals(
            await Deno.readFile(main),
            original,
            `${what}: main.js is the archive's again`,
          );
          const entries = [...Deno.readDirSync(join(tmp.path, "node/cache/orch"))].map((e) =>
            e.name
          );
          assertEquals(entries.sort(), [sum, "deno"], `${what}: nothing left behind`);
        }
      },
    );

    await t.step("a cache folder that others may write is refused", async () => {
      const open = join(tmp.path, "open");
      await Deno.mkdir(open);
      await Deno.chmod(open, 0o777);
      const r = await run(single, ["--version"], {
        HOME: join(tmp.path, "node/home"),
        ORCH_CACHE_DIR: open,
      });
      assertEquals(r.code, 1, r.stdout + r.stderr);
      assertMatch(r.stderr, /^orch: ORCH_CACHE_DIR=.* writable by another user/m);
      assertMatch(r.stderr, /^hint: /m);
      assertEquals([...Deno.readDirSync(open)], [], "nothing unpacked there");

      // A folder above the cache writable by others (and not sticky) is refused too.
      const below = join(open, "cache");
      const r2 = await run(single, ["--version"], {
        HOME: join(tmp.path, "node/home"),
        ORCH_CACHE_DIR: below,
      });
      assertEquals(r2.code, 1, r2.stdout + r2.stderr);
      assertMatch(r2.stderr, /writable by another user/);
      assertEquals([...Deno.readDirSync(open)], [], "nothing made there");

      // A link named like the cache in a sticky folder others write (/tmp) is anyone's: it may
      // point at a folder of this user's that the link's maker chose; it is refused.
      const sticky = join(tmp.path, "sticky");
      const mine = join(tmp.path, "node/home/mine");
      await Deno.mkdir(sticky);
      await Deno.chmod(sticky, 0o1777);
      await Deno.mkdir(mine, { recursive: true, mode: 0o700 });
      await Deno.symlink(mine, join(sticky, "orch-cache"));
      const r3 = await run(single, ["--version"], {
        HOME: join(tmp.path, "node/home"),
        ORCH_CACHE_DIR: join(sticky, "orch-cache"),
      });
      assertEquals(r3.code, 1, r3.stdout + r3.stderr);
      assertMatch(r3.stderr, /is a symbolic link in a folder others may write/);
      assertEquals([...Deno.readDirSync(mine)], [], "nothing unpacked through the link");
    });

    await t.step(
      "two copies starting at once on an empty cache both run; one folder stays",
      async () => {
        const env = { HOME: join(tmp.path, "node/home"), XDG_CACHE_HOME: join(tmp.path, "race") };
        const [a, b] = await Promise.all([
          run(single, ["--version"], env),
          run(single, ["--version"], env),
        ]);
        for (const r of [a, b]) {
          assertEquals(r.code, 0, r.stderr);
          assertMatch(r.stdout, new RegExp(`\\b${version}\\b`));
        }
        const entries = [...Deno.readDirSync(join(tmp.path, "race/orch"))].map((e) => e.name)
          .sort();
        assertEquals(entries, [sum, "deno"]);
      },
    );

    await t.step("a damaged single file is refused before anything is unpacked", async () => {
      const bytes = await Deno.readFile(single);
      const damaged = join(tmp.path, "damaged");
      await Deno.writeFile(damaged, bytes.subarray(0, bytes.length - 1000), { mode: 0o755 });
      const cache = join(tmp.path, "damaged-cache");
      const r = await run(damaged, ["--version"], {
        HOME: join(tmp.path, "node/home"),
        XDG_CACHE_HOME: cache,
      });
      assertEquals(r.code, 1, r.stdout + r.stderr);
      assertMatch(r.stderr, /is damaged: its archive has SHA-256 [0-9a-f]{64}, not [0-9a-f]{64}/);
      assertEquals([...Deno.readDirSync(join(cache, "orch"))], []);
    });
  },
});
