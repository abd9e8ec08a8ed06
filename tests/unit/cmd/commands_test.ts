import { join } from "node:path";
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { ROOT as REPO } from "../../_helpers/proc.ts";
import { COMMANDS, loadAll } from "../../../cmd/_commands.ts";
import { parseCommand } from "../../../lib/cli/parse.ts";
import type { CommandSpec } from "../../../lib/cli/spec.ts";

/** Every command, groups and their commands alike, with its path: `[["ca", "init"], spec]`. */
async function everyCommand(): Promise<[string[], CommandSpec][]> {
  const all: [string[], CommandSpec][] = [];
  const walk = (spec: CommandSpec, path: string[]) => {
    all.push([path, spec]);
    for (const sub of spec.commands ?? []) walk(sub, [...path, sub.name]);
  };
  for (const spec of (await loadAll()).commands!) walk(spec, [spec.name]);
  return all;
}

/** The words of an example's command line as a shell splits them, up to a pipe. */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|"((?:[^"\\]|\\.)*)"|(\|)|(\S+)/g;
  for (const m of line.matchAll(re)) {
    if (m[3]) break;
    out.push(m[1] ?? m[2] ?? m[4]);
  }
  return out;
}

Deno.test("each module declares the command its entry in the table names, with the same summary", async () => {
  for (const entry of COMMANDS) {
    const spec = await entry.load();
    assertEquals([spec.name, spec.summary], [entry.name, entry.summary]);
  }
});

Deno.test("every command has 2 to 4 examples and every group at least one, each a command line of its own", async () => {
  const root = await loadAll();
  for (const [path, spec] of await everyCommand()) {
    const name = `orch ${path.join(" ")}`;
    const examples = spec.examples ?? [];
    if (spec.commands) assert(examples.length >= 1, `${name} has no example`);
    else {
      assert(examples.length >= 2 && examples.length <= 4, `${name}: ${examples.length} examples`);
    }
    for (const e of examples) {
      assert(e.says.length > 0 && !e.says.endsWith("."), `${name}: says ${JSON.stringify(e.says)}`);
      // The command line up to a redirection or a pipe (`orch man | man -l -`).
      const all = words(e.cmd);
      const end = all.findIndex((w) => w === ">" || w === "|");
      const argv = end < 0 ? all : all.slice(0, end);
      assertEquals(argv[0], "orch", e.cmd);
      // A group's examples run its commands; a command's run itself.
      assertEquals(argv.slice(1, path.length + 1), path, `${name}: ${e.cmd}`);
      const parsed = parseCommand(root, argv.slice(1), []);
      assertEquals(parsed.kind, "run", e.cmd);
    }
  }
});

Deno.test("no command declares an option or a short name twice", async () => {
  for (const [path, spec] of await everyCommand()) {
    const longs = (spec.options ?? []).map((o) => o.long);
    const shorts = (spec.options ?? []).flatMap((o) => o.short ? [o.short] : []);
    assertEquals(new Set(longs).size, longs.length, `orch ${path.join(" ")}: ${longs}`);
    assertEquals(new Set(shorts).size, shorts.length, `orch ${path.join(" ")}: ${shorts}`);
    assert(!longs.includes("help") && !shorts.includes("h"), `orch ${path.join(" ")}`);
  }
});

/**
 * What `orch --version` and the audience commands must not load when they
 * start: `node:` modules (Deno's Node layer costs 15–70 ms to start), npm
 * packages (yaml, the certificate library, hono), SQLite, the certificate
 * code, the conductor or the player.
 */
const AUDIENCE = ["submit", "status", "cancel", "jobs", "players", "drain", "audit", "schedule"];
const ENTRIES = [join(REPO, "main.ts"), ...AUDIENCE.map((name) => join(REPO, "cmd", `${name}.ts`))];
const HEAVY =
  /^(node:|npm:)|\/lib\/(store|conductor|player|tls|bench)\/|\/lib\/config\/(mod|load)\.ts$/;

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
}

Deno.test("main.ts and the audience commands' modules load no node: module, npm package, SQLite, conductor or player when they start", async () => {
  for (const entry of ENTRIES) {
    const info = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: REPO,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(info.code, 0, new TextDecoder().decode(info.stderr));
    const graph = JSON.parse(new TextDecoder().decode(info.stdout)) as {
      roots: string[];
      modules: InfoModule[];
      redirects: Record<string, string>;
    };
    assertLight(graph);
  }
});

/** Asserts that no module the roots of `graph` import at the top (not dynamically) is heavy. */
function assertLight(
  graph: { roots: string[]; modules: InfoModule[]; redirects: Record<string, string> },
): void {
  const bySpecifier = new Map(graph.modules.map((m) => [m.specifier, m]));
  for (const root of graph.roots) {
    // Only what is imported at the top, for its code: dynamic imports load on a rare path only.
    const seen = new Map<string, string>([[root, ""]]);
    const queue = [root];
    while (queue.length > 0) {
      const at = queue.shift()!;
      for (const dep of bySpecifier.get(at)?.dependencies ?? []) {
        if (!dep.code || dep.isDynamic) continue;
        const to = graph.redirects[dep.code.specifier] ?? dep.code.specifier;
        if (seen.has(to)) continue;
        seen.set(to, at);
        queue.push(to);
      }
    }
    for (const [mod, from] of seen) {
      const rel = (s: string) => s.replace(`file://${REPO}`, "");
      assert(
        !HEAVY.test(mod),
        `${rel(root)} loads ${rel(mod)} at start (imported by ${rel(from)})`,
      );
    }
  }
}
