import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertRejects } from "../../_helpers/assert.ts";
import { tempDir } from "../../_helpers/proc.ts";
import {
  clientConfigCandidates,
  type ClientFlags,
  type ClientSettings,
  describeSource,
  resolveClientSettings,
} from "../../../lib/client/settings.ts";
import { OrchError } from "../../../lib/errors.ts";

/** An environment holding only `vars`. */
function envOf(vars: Record<string, string>) {
  return { get: (name: string) => vars[name] };
}

/** Resolves with a temp HOME (its `.config/orch/client.yaml` holding `file`, when given). */
async function resolveIn(
  home: string,
  flags: ClientFlags,
  vars: Record<string, string>,
  file?: string,
): Promise<ClientSettings> {
  if (file !== undefined) {
    await Deno.mkdir(join(home, ".config", "orch"), { recursive: true });
    await Deno.writeTextFile(join(home, ".config", "orch", "client.yaml"), file);
  }
  return await resolveClientSettings(flags, envOf({ HOME: home, ...vars }), {
    systemConfig: join(home, "no-system-file.yaml"),
  });
}

/** Each setting's value and source, for comparing. */
function summary(s: ClientSettings) {
  const one = (x: { value: unknown; from: Parameters<typeof describeSource>[0] } | null) =>
    x === null ? null : [x.value, describeSource(x.from)];
  return {
    transport: s.transport,
    socket: one(s.socket),
    conductors: one(s.conductors),
    conductorName: one(s.conductorName),
    ca: one(s.ca),
    cert: one(s.cert),
    key: one(s.key),
  };
}

Deno.test("with no flag, variable or file, the client uses the socket and the default paths", async () => {
  await using home = await tempDir();
  const s = await resolveIn(home.path, {}, {});
  assertEquals(s.file, null);
  assertEquals(summary(s), {
    transport: "socket",
    socket: ["/run/orchestra/audience.sock", "default"],
    conductors: null,
    conductorName: null,
    ca: ["/etc/orchestra/ca.crt", "default"],
    cert: ["/etc/orchestra/audience.crt", "default"],
    key: ["/etc/orchestra/audience.key", "default"],
  });
});

Deno.test("each setting comes from the nearest source that has it: flag, then environment, then file", async () => {
  await using home = await tempDir();
  const file = [
    "# written by hand",
    "conductor: file-host:1000",
    "conductor_name: file-name",
    "cert: certs/file.crt",
    "key: /abs/file.key",
    "ca: ca.crt",
  ].join("\n");
  const s = await resolveIn(home.path, { cert: "flag.crt" }, {
    ORCH_CONDUCTOR: "env-host:2000",
    ORCH_KEY: "env.key",
    ORCH_CERT: "env.crt",
  }, file);
  const f = join(home.path, ".config", "orch", "client.yaml");
  assertEquals(s.file, f);
  assertEquals(summary(s), {
    transport: "https",
    socket: ["/run/orchestra/audience.sock", "default"],
    conductors: [[{ host: "env-host", port: 2000 }], "ORCH_CONDUCTOR"],
    // The file's conductor_name is for the file's conductor, not for the one in ORCH_CONDUCTOR.
    conductorName: null,
    // Relative paths in the file are the file's folder's; those of flags and variables are kept.
    ca: [join(home.path, ".config", "orch", "ca.crt"), `${f}:6`],
    cert: ["flag.crt", "--cert"],
    key: ["env.key", "ORCH_KEY"],
  });
});

Deno.test("conductors: a list in the file or commas anywhere, port 2259 when left out, IPv6 in brackets", async () => {
  await using home = await tempDir();
  let s = await resolveIn(home.path, {}, {}, "conductor:\n  - a.example\n  - '[::1]:3000'\n");
  assertEquals(s.conductors?.value, [
    { host: "a.example", port: 2259 },
    { host: "::1", port: 3000 },
  ]);
  s = await resolveIn(home.path, { conductor: "x:1, y" }, {});
  assertEquals(s.conductors?.value, [{ host: "x", port: 1 }, { host: "y", port: 2259 }]);
  assertEquals(s.transport, "https");
});

Deno.test("the socket or HTTPS: --socket always wins; otherwise the nearer source, HTTPS at a tie", async () => {
  await using home = await tempDir();
  const file = "conductor: c.example\nsocket: /file.sock\n";
  const cases: [ClientFlags, Record<string, string>, string | undefined, string][] = [
    [{ socket: "/flag.sock" }, { ORCH_CONDUCTOR: "c" }, undefined, "socket"],
    [{ socket: "/flag.sock", conductor: "c" }, {}, undefined, "socket"],
    [{ conductor: "c" }, { ORCH_SOCKET: "/env.sock" }, undefined, "https"],
    [{}, { ORCH_SOCKET: "/env.sock", ORCH_CONDUCTOR: "c" }, undefined, "https"],
    [{}, { ORCH_SOCKET: "/env.sock" }, file, "socket"],
    [{}, {}, file, "https"],
    [{}, {}, "socket: /file.sock\n", "socket"],
  ];
  for (const [flags, vars, text, want] of cases) {
    await Deno.remove(join(home.path, ".config"), { recursive: true }).catch(() => {});
    const s = await resolveIn(home.path, flags, vars, text);
    assertEquals(s.transport, want, JSON.stringify([flags, vars, text]));
  }
});

Deno.test("an empty environment variable counts as unset", async () => {
  await using home = await tempDir();
  const s = await resolveIn(home.path, {}, { ORCH_CONDUCTOR: "", ORCH_CERT: "" });
  assertEquals([s.transport, describeSource(s.cert.from)], ["socket", "default"]);
});

Deno.test("the file looked for: ORCH_CLIENT_CONFIG alone, else XDG_CONFIG_HOME or ~/.config, then /etc", () => {
  assertEquals(clientConfigCandidates(envOf({ ORCH_CLIENT_CONFIG: "/x.yaml", HOME: "/h" })), {
    paths: ["/x.yaml"],
    required: true,
  });
  assertEquals(clientConfigCandidates(envOf({ XDG_CONFIG_HOME: "/xdg", HOME: "/h" })), {
    paths: ["/xdg/orch/client.yaml", "/etc/orchestra/client.yaml"],
    required: false,
  });
  // A relative XDG_CONFIG_HOME is ignored, as the XDG specification says.
  assertEquals(clientConfigCandidates(envOf({ XDG_CONFIG_HOME: "rel", HOME: "/h/" })).paths, [
    "/h/.config/orch/client.yaml",
    "/etc/orchestra/client.yaml",
  ]);
  assertEquals(clientConfigCandidates(envOf({})).paths, ["/etc/orchestra/client.yaml"]);
});

Deno.test("ORCH_CLIENT_CONFIG must exist; the user's file is read before the system's", async () => {
  await using home = await tempDir();
  const missing = join(home.path, "missing.yaml");
  const err = await assertRejects(() =>
    resolveClientSettings({}, envOf({ ORCH_CLIENT_CONFIG: missing }))
  );
  assert(err instanceof OrchError);
  assertEquals(err.code, "config");
  assertEquals(err.message, `client config file ${missing} (ORCH_CLIENT_CONFIG) does not exist`);

  const system = join(home.path, "system.yaml");
  await Deno.writeTextFile(system, "cert: /system.crt\n");
  const xdg = join(home.path, "xdg");
  let s = await resolveClientSettings({}, envOf({ XDG_CONFIG_HOME: xdg }), {
    systemConfig: system,
  });
  assertEquals([s.file, s.cert.value], [system, "/system.crt"]);
  await Deno.mkdir(join(xdg, "orch"), { recursive: true });
  await Deno.writeTextFile(join(xdg, "orch", "client.yaml"), "cert: user.crt\n");
  s = await resolveClientSettings({}, envOf({ XDG_CONFIG_HOME: xdg }), { systemConfig: system });
  assertEquals([s.file, s.cert.value], [
    join(xdg, "orch", "client.yaml"),
    join(xdg, "orch", "user.crt"),
  ]);
  // Named, a file is read even where the user's exists.
  s = await resolveClientSettings({}, envOf({ XDG_CONFIG_HOME: xdg, ORCH_CLIENT_CONFIG: system }));
  assertEquals(s.cert.value, "/system.crt");
});

Deno.test("a bad client config file is refused naming the file, the line and the key", async () => {
  await using home = await tempDir();
  const f = join(home.path, ".config", "orch", "client.yaml");
  const cases: [string, RegExp][] = [
    ["cert: a.crt\nkey: a.key\nconductor_nam: x\n", /:3: unknown key "conductor_nam"$/],
    ["cert: 12\n", /:1: key 'cert': expected a non-empty string$/],
    ["ca:\n  - a\n  - b\n", /:1: key 'ca': expected a non-empty string$/],
    ["\n\nconductor: [a, 3]\n", /:3: key 'conductor': expected a list of host:port$/],
    ["conductor: []\n", /:1: key 'conductor': expected at least one host:port$/],
    ["cert: a\ncert: b\n", /:2: Map keys must be unique/],
    ["cert: [a\n", /:\d+: /],
    ["- cert\n", /:1: expected a mapping of keys to values$/],
    ["conductor: 'a b'\n", /:1: key 'conductor' "a b" is not host:port$/],
    ["conductor_name: 'a b'\n", /:1: key 'conductor_name' "a b" is not a host name$/],
    [`conductor: ${Array.from({ length: 17 }, (_, i) => `h${i}`).join(",")}\n`, /at most 16/],
  ];
  for (const [text, pattern] of cases) {
    const err = await assertRejects(() => resolveIn(home.path, {}, {}, text));
    assert(err instanceof OrchError, String(err));
    assertEquals(err.code, "config", text);
    assertMatch(err.message, new RegExp(`^${f.replaceAll(/[/.]/g, "\\$&")}:`), text);
    assertMatch(err.message, pattern, text);
  }
  // An unknown key's hint lists the keys there are.
  const err = await assertRejects(() => resolveIn(home.path, {}, {}, "nope: 1\n")) as OrchError;
  assertEquals(
    err.hint,
    "a client config file holds only: conductor, conductor_name, cert, key, ca, socket",
  );
});

Deno.test("conductor_name applies to conductors from a source no nearer than its own", async () => {
  await using home = await tempDir();
  const file = "conductor: a.example\nconductor_name: a-name\n";
  const f = join(home.path, ".config", "orch", "client.yaml");
  const fromFile = await resolveIn(home.path, {}, {}, file);
  assertEquals(summary(fromFile).conductorName, ["a-name", `${f}:2`]);
  // --conductor b.example: the file's name is not b's.
  const flag = await resolveIn(home.path, { conductor: "b.example" }, {});
  assertEquals(summary(flag).conductorName, null);
  // A name given as near as the conductor (or nearer) applies.
  const env = await resolveIn(home.path, { conductor: "b.example" }, {
    ORCH_CONDUCTOR_NAME: "b-name",
  });
  assertEquals(summary(env).conductorName, null);
  const both = await resolveIn(home.path, { conductor: "b.example", conductorName: "b-name" }, {});
  assertEquals(summary(both).conductorName, ["b-name", "--conductor-name"]);
  const envBoth = await resolveIn(home.path, {}, {
    ORCH_CONDUCTOR: "c.example",
    ORCH_CONDUCTOR_NAME: "c-name",
  });
  assertEquals(summary(envBoth).conductorName, ["c-name", "ORCH_CONDUCTOR_NAME"]);
});

Deno.test("a client config file that is not a regular file, or is too large, is refused unread", async () => {
  await using home = await tempDir();
  for (const [path, says] of [["/dev/zero", "is not a file"]] as const) {
    const err = await assertRejects(() => resolveIn(home.path, {}, { ORCH_CLIENT_CONFIG: path }));
    assertMatch(
      err.message,
      new RegExp(`^client config file ${path} \\(ORCH_CLIENT_CONFIG\\) ${says}$`),
    );
  }
  const big = join(home.path, "big.yaml");
  await Deno.writeTextFile(big, `# ${"x".repeat(70_000)}\n`);
  const err = await assertRejects(() => resolveIn(home.path, {}, { ORCH_CLIENT_CONFIG: big }));
  assertMatch(err.message, /is larger than 65536 bytes$/);
});

Deno.test("a client config file that cannot be read is named", async () => {
  await using home = await tempDir();
  await Deno.mkdir(join(home.path, ".config", "orch", "client.yaml"), { recursive: true });
  const err = await assertRejects(() => resolveIn(home.path, {}, {}));
  assertEquals(
    err.message,
    `client config file ${join(home.path, ".config", "orch", "client.yaml")} is a directory`,
  );
});

Deno.test("bad values from flags are usage errors, from the environment config errors, each naming its source", async () => {
  await using home = await tempDir();
  const cases: [ClientFlags, Record<string, string>, string, string][] = [
    [{ conductor: "a:99999" }, {}, "usage", '--conductor "a:99999" is not host:port'],
    [{ conductor: "0.0.0.0:1" }, {}, "usage", '--conductor "0.0.0.0:1" is not host:port'],
    [
      {},
      { ORCH_CONDUCTOR: "a,,b" },
      "config",
      'environment variable ORCH_CONDUCTOR "" is not host:port',
    ],
    [{ conductorName: "a/b" }, {}, "usage", '--conductor-name "a/b" is not a host name'],
    [{ cert: "" }, {}, "usage", "--cert is empty"],
    [{}, { ORCH_KEY: "a\nb" }, "config", "environment variable ORCH_KEY holds a control character"],
    [
      { conductor: Array.from({ length: 17 }, () => "h").join(",") },
      {},
      "usage",
      "--conductor names 17 conductors; at most 16 are tried",
    ],
  ];
  for (const [flags, vars, code, message] of cases) {
    const err = await assertRejects(() => resolveIn(home.path, flags, vars));
    assert(err instanceof OrchError);
    assertEquals([err.code, err.message], [code, message]);
  }
});
