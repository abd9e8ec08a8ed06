import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
} from "../../_helpers/assert.ts";
import { join } from "node:path";
import { OrchError } from "../../../lib/errors.ts";
import { conductorKeys } from "../../../lib/config/conductor.ts";
import { playerKeys } from "../../../lib/config/player.ts";
import { closest, flagName, loadConfig, parseConfigText } from "../../../lib/config/load.ts";

const FILE = "/etc/orchestra/conductor.yaml";

function configError(fn: () => unknown, message: string): OrchError {
  const err = assertThrows(fn);
  assert(err instanceof OrchError, `expected an OrchError, got ${err}`);
  assertEquals(err.code, "config");
  assertEquals(err.message, message);
  return err;
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function defaults(spec: Record<string, { default: unknown }>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, v.default]));
}

Deno.test("a flag name is the key with dashes", () => {
  assertEquals(flagName("players_file"), "--players-file");
  assertEquals(flagName("db"), "--db");
});

Deno.test("a config file sets typed values", () => {
  const text = `listen: 127.0.0.1:9000
audience_listen: off
heartbeat: 20s
max_frame: 2MiB
log_level: debug
log_format: json
audience_socket_mode: 0640
`;
  assertEquals(parseConfigText(conductorKeys, text, FILE), {
    listen: { host: "127.0.0.1", port: 9000 },
    audience_listen: null,
    heartbeat: 20_000,
    max_frame: 2_097_152,
    log_level: "debug",
    log_format: "json",
    audience_socket_mode: 0o640,
  });
});

Deno.test("a file mode written in YAML's octal notation is that mode", () => {
  // YAML 1.2 reads 0o640 as the number 416; the mode must still be 0640, not 0416.
  assertEquals(
    parseConfigText(conductorKeys, "audience_socket_mode: 0o640\n", FILE).audience_socket_mode,
    0o640,
  );
});

Deno.test("a quoted file mode is octal", () => {
  assertEquals(
    parseConfigText(conductorKeys, 'audience_socket_mode: "0600"\n', FILE).audience_socket_mode,
    0o600,
  );
});

Deno.test("relative paths in a file are taken from the file's folder; absolute ones are kept", () => {
  const out = parseConfigText(
    conductorKeys,
    "db: data/conductor.db\nplayers_file: ../players\nca: /srv/ca.crt\naudience_socket: ''\n",
    FILE,
  );
  assertEquals(out, {
    db: "/etc/orchestra/data/conductor.db",
    players_file: "/etc/players",
    ca: "/srv/ca.crt",
    audience_socket: "",
  });
});

Deno.test("an empty config file sets nothing", () => {
  assertEquals(parseConfigText(conductorKeys, "", FILE), {});
  assertEquals(parseConfigText(conductorKeys, "# all defaults\n", FILE), {});
});

Deno.test("an unknown key is an error at its line with a did-you-mean", () => {
  configError(
    () => parseConfigText(conductorKeys, "listen: :1\nhearbeat: 10s\n", FILE),
    `${FILE}:2: unknown key 'hearbeat' (did you mean 'heartbeat'?)`,
  );
  configError(
    () => parseConfigText(conductorKeys, "\n\nplayers-file: /x\n", FILE),
    `${FILE}:3: unknown key 'players-file' (did you mean 'players_file'?)`,
  );
});

Deno.test("an unknown key far from every known one has no suggestion", () => {
  configError(
    () => parseConfigText(conductorKeys, "zzzzzzzzzz: 1\n", FILE),
    `${FILE}:1: unknown key 'zzzzzzzzzz'`,
  );
});

Deno.test("a bad value is an error naming the file, line and key", () => {
  configError(
    () => parseConfigText(conductorKeys, "db: /x\nheartbeat: soon\n", FILE),
    `${FILE}:2: key 'heartbeat': the string "soon" is not a duration (e.g. 500ms, 15s, 2m)`,
  );
  configError(
    () => parseConfigText(conductorKeys, "heartbeat: 100ms\n", FILE),
    `${FILE}:1: key 'heartbeat': 100ms is out of range (300ms..34560000000ms)`,
  );
  configError(
    () => parseConfigText(conductorKeys, "log_level: verbose\n", FILE),
    `${FILE}:1: key 'log_level': the string "verbose" is not one of debug, info, warn, error`,
  );
  configError(
    () => parseConfigText(conductorKeys, "listen: host:99999\n", FILE),
    `${FILE}:1: key 'listen': the string "host:99999" is not an address (host:port)`,
  );
  configError(
    () => parseConfigText(conductorKeys, "db:\n", FILE),
    `${FILE}:1: key 'db': null is not a string`,
  );
});

Deno.test("a key with a mapping or a list as value is an error", () => {
  configError(
    () => parseConfigText(conductorKeys, "db: /x\nlisten:\n  host: a\n", FILE),
    `${FILE}:2: key 'listen': expected a single value`,
  );
  configError(
    () => parseConfigText(conductorKeys, "db: [a, b]\n", FILE),
    `${FILE}:1: key 'db': expected a single value`,
  );
});

Deno.test("a YAML error is reported with its line", () => {
  configError(
    () => parseConfigText(conductorKeys, "db: a\nheartbeat: 1s\ndb: b\n", FILE),
    `${FILE}:3: Map keys must be unique`,
  );
  configError(
    () => parseConfigText(conductorKeys, "db: a\n\tlisten: :1\n", FILE),
    `${FILE}:2: Tabs are not allowed as indentation`,
  );
});

Deno.test("a config file that is not a mapping is an error", () => {
  configError(
    () => parseConfigText(conductorKeys, "- db\n", FILE),
    `${FILE}:1: expected a mapping of keys to values`,
  );
});

Deno.test("closest finds a near key and nothing for a distant word", () => {
  const keys = Object.keys(playerKeys);
  assertEquals(closest("scores_dirs", keys), "scores_dir");
  assertEquals(closest("slot", keys), "slots");
  assertEquals(closest("certificate", keys), undefined);
});

Deno.test("without a file or flags every key has its default", async () => {
  const values = await loadConfig(conductorKeys, { fileRequired: false, flags: {}, cwd: "/" });
  assertEquals(values, defaults(conductorKeys));
});

Deno.test("a missing optional config file leaves the defaults", async () => {
  await withTempDir(async (dir) => {
    const values = await loadConfig(conductorKeys, {
      file: join(dir, "nope.yaml"),
      fileRequired: false,
      flags: {},
      cwd: dir,
    });
    assertEquals(values, defaults(conductorKeys));
  });
});

Deno.test("a missing required config file is an error", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "nope.yaml");
    const err = await assertRejects(() =>
      loadConfig(conductorKeys, { file, fileRequired: true, flags: {}, cwd: dir })
    );
    assert(err instanceof OrchError);
    assertEquals(err.code, "config");
    assertEquals(err.message, `config file ${file} does not exist`);
  });
});

Deno.test("flags win over the file, the file over defaults", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "conductor.yaml");
    await Deno.writeTextFile(file, "heartbeat: 10s\nlog_level: warn\n");
    const values = await loadConfig(conductorKeys, {
      file,
      fileRequired: true,
      flags: { heartbeat: "20s", log_format: "json", log_level: undefined },
      cwd: dir,
    });
    assertEquals(values, {
      ...defaults(conductorKeys),
      heartbeat: 20_000,
      log_level: "warn",
      log_format: "json",
    });
  });
});

Deno.test("relative paths from the file follow the file; relative paths from flags follow cwd", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "etc"));
    const file = join(dir, "etc", "conductor.yaml");
    await Deno.writeTextFile(file, "db: data/conductor.db\nca: ca.crt\n");
    const values = await loadConfig(conductorKeys, {
      file,
      fileRequired: true,
      flags: { ca: "certs/ca.crt", players_file: "lists/players", audience_socket: "" },
      cwd: "/work/here",
    });
    assertEquals(values.db, join(dir, "etc", "data", "conductor.db"));
    assertEquals(values.ca, "/work/here/certs/ca.crt");
    assertEquals(values.players_file, "/work/here/lists/players");
    assertEquals(values.audience_socket, "");
  });
});

Deno.test("a bad flag value names the flag", async () => {
  const load = (flags: Record<string, string>) =>
    loadConfig(playerKeys, { fileRequired: false, flags, cwd: "/" });
  const cases: [Record<string, string>, string][] = [
    [
      { heartbeat: "soon" },
      'flag --heartbeat: the string "soon" is not a duration (e.g. 500ms, 15s, 2m)',
    ],
    [{ slots: "0" }, "flag --slots: 0 is out of range (1..1024)"],
    [
      { conductor: "c:99999" },
      'flag --conductor: the string "c:99999" is not an address (host:port)',
    ],
    [{ scores_dir: "" }, 'flag --scores-dir: the string "" is not a non-empty string'],
  ];
  for (const [flags, message] of cases) {
    const err = await assertRejects(() => load(flags));
    assert(err instanceof OrchError);
    assertEquals([err.code, err.message], ["config", message]);
  }
});

Deno.test("flags are parsed from text: numbers, durations, addresses, names", async () => {
  const values = await loadConfig(playerKeys, {
    fileRequired: false,
    flags: { slots: "8", reconnect_max: "45", conductor: "conductor.example", name: "Web-1" },
    cwd: "/",
  });
  assertEquals(values.slots, 8);
  assertEquals(values.reconnect_max, 45_000);
  assertEquals(values.conductor, [{ host: "conductor.example", port: 2258 }]);
  assertEquals(values.name, "web-1");
});

Deno.test("the player's conductor is a list: a YAML list, or addresses separated by commas", async () => {
  const flag = await loadConfig(playerKeys, {
    fileRequired: false,
    flags: { conductor: "c1.example:7000, c2.example,[fd00::3]:7002" },
    cwd: "/",
  });
  const three = [
    { host: "c1.example", port: 7000 },
    { host: "c2.example", port: 2258 },
    { host: "fd00::3", port: 7002 },
  ];
  assertEquals(flag.conductor, three);
  const yaml = "conductor:\n  - c1.example:7000\n  - c2.example\n  - '[fd00::3]:7002'\n";
  assertEquals(parseConfigText(playerKeys, yaml, "/etc/orchestra/player.yaml").conductor, three);
  assertEquals(
    parseConfigText(playerKeys, "conductor: c1.example\n", "/p.yaml").conductor,
    [{ host: "c1.example", port: 2258 }],
  );
});

Deno.test("a conductor list with a bad, repeated, missing or 17th address is refused naming it", async () => {
  const load = (conductor: string) =>
    loadConfig(playerKeys, { fileRequired: false, flags: { conductor }, cwd: "/" });
  const cases: [string, string][] = [
    [
      "a:1,b:99999",
      'flag --conductor: the string "b:99999" is not an address (host:port), at entry 2',
    ],
    ["a:1,,b:2", 'flag --conductor: the string "" is not an address (host:port), at entry 2'],
    ["a:1,:2", 'flag --conductor: the string ":2" is not an address (host:port), at entry 2'],
    ["a:1,b:2,a:1", "flag --conductor: a:1 is listed twice"],
    [
      Array.from({ length: 17 }, (_, i) => `c${i}:1`).join(","),
      "flag --conductor: 17 addresses are more than 16",
    ],
  ];
  for (const [flag, message] of cases) {
    const err = await assertRejects(() => load(flag));
    assert(err instanceof OrchError);
    assertEquals([err.code, err.message], ["config", message]);
  }
  const err = assertThrows(() => parseConfigText(playerKeys, "conductor: []\n", "/p.yaml"));
  assertMatch(
    (err as Error).message,
    /key 'conductor': the list is empty: give at least one host:port$/,
  );
});

Deno.test("a flag for a key the spec does not have is an internal error", async () => {
  const err = await assertRejects(() =>
    loadConfig(playerKeys, { fileRequired: false, flags: { colour: "red" }, cwd: "/" })
  );
  assert(err instanceof OrchError);
  assertEquals([err.code, err.message], ["internal", "flag for unknown config key colour"]);
});

Deno.test("an error in the file is reported with the file's path and line", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "player.yaml");
    await Deno.writeTextFile(file, "name: p1\n\nslots: many\n");
    const err = await assertRejects(() =>
      loadConfig(playerKeys, { file, fileRequired: true, flags: {}, cwd: dir })
    );
    assert(err instanceof OrchError);
    assertEquals(err.message, `${file}:3: key 'slots': the string "many" is not an integer`);
  });
});
