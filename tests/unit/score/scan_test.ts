import { assert, assertEquals, assertRejects } from "../../_helpers/assert.ts";
import { join } from "node:path";
import { OrchError } from "../../../lib/errors.ts";
import { DEFAULT_CONF } from "../../../lib/score/conf.ts";
import { formatProblem, scanScores, scoreInfo } from "../../../lib/score/scan.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function file(path: string, text: string, mode: number): Promise<void> {
  await Deno.writeTextFile(path, text);
  await Deno.chmod(path, mode);
}

const SCORE_DESC =
  "a score name (letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128)";

Deno.test("a scores directory yields its valid scores and every problem, in name order", async () => {
  await withDir(async (dir) => {
    const sh = "#!/bin/sh\nexit 0\n";
    await file(join(dir, "hello"), sh, 0o755);
    await file(join(dir, "deploy"), sh, 0o750);
    await file(
      join(dir, "deploy.conf"),
      "interface: pipe\ntimeout: 30s\nidempotent: true\n",
      0o644,
    );
    await file(join(dir, "broken"), sh, 0o755);
    await file(join(dir, "broken.conf"), "interface: pipe\ncolour: red\n", 0o644);
    await file(join(dir, "legacy"), sh, 0o755);
    await file(join(dir, "legacy.conf"), "interface=env\n", 0o644);
    await file(join(dir, "noexec"), sh, 0o644);
    await file(join(dir, "world"), sh, 0o757);
    await file(join(dir, "group"), sh, 0o775);
    await file(join(dir, "orphan.conf"), "interface: env\n", 0o644);
    await file(join(dir, ".hidden"), sh, 0o755);
    await file(join(dir, "bad name"), sh, 0o755);
    await Deno.mkdir(join(dir, "lib"));

    const cat = await scanScores(dir);
    assertEquals(cat.dir, dir);
    assertEquals([...cat.scores.keys()], ["deploy", "group", "hello", "legacy"]);
    assertEquals(cat.scores.get("hello"), {
      name: "hello",
      path: join(dir, "hello"),
      conf: DEFAULT_CONF,
      confPath: null,
    });
    const deploy = cat.scores.get("deploy")!;
    assertEquals(deploy.confPath, join(dir, "deploy.conf"));
    assertEquals([deploy.conf.interface, deploy.conf.timeout_ms, deploy.conf.idempotent], [
      "pipe",
      30_000,
      true,
    ]);
    assertEquals(cat.problems, [
      {
        file: join(dir, "bad name"),
        line: null,
        severity: "hint",
        message: `ignored: the name is not ${SCORE_DESC}`,
      },
      {
        file: join(dir, "broken.conf"),
        line: 2,
        severity: "error",
        message:
          "unknown key 'colour' (known: interface, dir, path, timeout, max_timeout, idempotent, params, response, description, user, group)",
      },
      {
        file: join(dir, "group"),
        line: null,
        severity: "hint",
        message: "writable by its group (mode 0775): members could change what runs",
      },
      {
        file: join(dir, "legacy.conf"),
        line: 1,
        severity: "hint",
        message: "old key=value form; in YAML write: interface: env",
      },
      {
        file: join(dir, "noexec"),
        line: null,
        severity: "error",
        message: `not executable (mode 0644); run: chmod +x ${join(dir, "noexec")}`,
      },
      {
        file: join(dir, "orphan.conf"),
        line: null,
        severity: "error",
        message: "conf for a score that does not exist (orphan)",
      },
      {
        file: join(dir, "world"),
        line: null,
        severity: "error",
        message: "writable by everyone (mode 0757): anyone could change what runs",
      },
    ]);
  });
});

Deno.test("a scores directory that does not exist, or is a file, is a config error", async () => {
  await withDir(async (dir) => {
    const missing = join(dir, "nope");
    let err = await assertRejects(() => scanScores(missing));
    assert(err instanceof OrchError);
    assertEquals([err.code, err.message], ["config", `scores directory ${missing} does not exist`]);
    await file(join(dir, "f"), "", 0o644);
    err = await assertRejects(() => scanScores(join(dir, "f")));
    assertEquals([(err as OrchError).code, err.message], [
      "config",
      `scores directory ${join(dir, "f")} is not a directory`,
    ]);
  });
});

Deno.test("a problem is written FILE:LINE: message, with hint: for hints", () => {
  assertEquals(
    formatProblem({ file: "/s/a.conf", line: 3, severity: "error", message: "bad" }),
    "/s/a.conf:3: bad",
  );
  assertEquals(
    formatProblem({ file: "/s/a", line: null, severity: "hint", message: "meh" }),
    "/s/a: hint: meh",
  );
});

Deno.test("what a player announces about a score comes from its conf", () => {
  assertEquals(
    scoreInfo({
      name: "s",
      path: "/s/s",
      confPath: null,
      conf: {
        ...DEFAULT_CONF,
        interface: "json",
        timeout_ms: 5,
        max_timeout_ms: 9,
        idempotent: true,
        params: {},
      },
    }),
    {
      name: "s",
      interface: "json",
      params: {},
      timeout_ms: 5,
      max_timeout_ms: 9,
      idempotent: true,
    },
  );
});

Deno.test("a declared response is announced with the score; none declared, none announced", () => {
  const score = { name: "s", path: "/s/s", confPath: null };
  const response = { n: { type: "int" as const, required: true } };
  const info = scoreInfo({ ...score, conf: { ...DEFAULT_CONF, interface: "pipe", response } });
  assertEquals(info.response, response);
  assertEquals("response" in scoreInfo({ ...score, conf: DEFAULT_CONF }), false);
});

Deno.test("a score whose conf pattern does not compile is not offered; the problem names file, line and parameter", async () => {
  await withDir(async (dir) => {
    await file(join(dir, "grep"), "#!/bin/sh\n", 0o755);
    await file(
      join(dir, "grep.conf"),
      'interface: env\nparams:\n  WORD: {type: string, pattern: "a(?=b)"}\n',
      0o644,
    );
    const catalog = await scanScores(dir);
    assertEquals([...catalog.scores.keys()], []);
    assertEquals(catalog.problems.map(formatProblem), [
      `${dir}/grep.conf:3: parameter WORD: 'pattern' uses a lookahead ((?=…), a feature that ` +
      "is not supported: patterns are RE2 syntax, matched in linear time (no backreferences, " +
      "lookahead or lookbehind)",
    ]);
  });
});

Deno.test("a conf whose user cannot run scores here is an error at the user line, and not offered", async () => {
  await withDir(async (dir) => {
    await file(join(dir, "as"), "#!/bin/sh\n", 0o755);
    await file(join(dir, "as.conf"), "interface: env\n\nuser: ghost\n", 0o644);
    await file(join(dir, "ok"), "#!/bin/sh\n", 0o755);
    await file(join(dir, "ok.conf"), "user=deploy\n", 0o644);
    const asked: [string, string | null][] = [];
    const cat = await scanScores(dir, {
      accountProblem: (user, group) => {
        asked.push([user, group]);
        return user === "ghost" ? 'no user "ghost" in /etc/passwd' : undefined;
      },
    });
    assertEquals(asked, [["ghost", null], ["deploy", null]]);
    assertEquals([...cat.scores.keys()], ["ok"]);
    assertEquals(
      cat.problems.filter((p) => p.severity === "error").map(formatProblem),
      [`${join(dir, "as.conf")}:3: key 'user': no user "ghost" in /etc/passwd`],
    );
  });
});
