/**
 * The store spec: SQLite paths and PostgreSQL URLs, refused passwords,
 * TLS defaults, and where the password comes from.
 */

import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertNotMatch } from "../../_helpers/assert.ts";
import { withTempDir } from "../../_helpers/proc.ts";
import {
  parseStoreSpec,
  type PostgresStoreSpec,
  shownStore,
  storeConnection,
} from "../../../lib/config/mod.ts";
import { OrchError } from "../../../lib/errors.ts";

function pgSpec(text: string): PostgresStoreSpec {
  const s = parseStoreSpec(text, "--to");
  assert(s.kind === "postgres", `${text} is a PostgreSQL spec`);
  return s;
}

/** The OrchError `fn` throws (sync or async). */
async function refusal(fn: () => unknown): Promise<OrchError> {
  try {
    await fn();
  } catch (err) {
    assert(err instanceof OrchError, `an OrchError, not ${err}`);
    assertEquals(err.code, "config");
    return err;
  }
  throw new Error("nothing was refused");
}

Deno.test("a sqlite: spec and a bare path are both a SQLite file", () => {
  assertEquals(parseStoreSpec("sqlite:/var/lib/orchestra/conductor.db", "store"), {
    kind: "sqlite",
    path: "/var/lib/orchestra/conductor.db",
  });
  assertEquals(parseStoreSpec("sqlite:///tmp/c.db", "store"), {
    kind: "sqlite",
    path: "/tmp/c.db",
  });
  assertEquals(parseStoreSpec("/tmp/c.db", "store"), { kind: "sqlite", path: "/tmp/c.db" });
  assertEquals(parseStoreSpec("rel/c.db", "store"), { kind: "sqlite", path: "rel/c.db" });
});

Deno.test("a TCP URL gives its parts and checks the server's certificate and name by default", () => {
  const s = pgSpec("postgres://orch@db.example:6543/queue");
  assertEquals(
    [s.user, s.host, s.port, s.database, s.socket, s.sslmode, s.sslrootcert],
    ["orch", "db.example", 6543, "queue", false, "verify-full", null],
  );
  assertEquals(s.url, "postgres://orch@db.example:6543/queue");
  assertEquals(pgSpec("postgresql://orch@db.example/queue").port, 5432);
  assertEquals(pgSpec("postgres://orch@[::1]/q").url, "postgres://orch@[::1]:5432/q");
});

Deno.test("sslmode and sslrootcert are taken from the URL and kept out of the store's URL", () => {
  for (const mode of ["disable", "require", "verify-ca", "verify-full"]) {
    assertEquals(pgSpec(`postgres://u@h/d?sslmode=${mode}`).sslmode, mode);
  }
  const s = pgSpec("postgres://u@h/d?sslmode=verify-ca&sslrootcert=/etc/ca.pem");
  assertEquals(s.sslrootcert, "/etc/ca.pem");
  assertEquals(s.url, "postgres://u@h:5432/d");
});

Deno.test("a Unix socket (libpq's form, or no host at all) speaks no TLS by default", () => {
  const s = pgSpec("postgres://orch@/queue?host=/run/postgresql");
  assertEquals([s.host, s.socket, s.sslmode], ["/run/postgresql", true, "disable"]);
  assertEquals(s.url, "postgres://orch@localhost:5432/queue?host=%2Frun%2Fpostgresql");
  assertEquals(shownStore(s), "postgres://orch@/queue?host=/run/postgresql");
  assertEquals(pgSpec("postgres://orch@/queue").host, "/run/postgresql");
  assertEquals(pgSpec("postgres://orch@localhost:5433/q?host=/tmp/pg").port, 5433);
});

Deno.test("a password in the URL is refused, saying where to put it, never quoting it", async () => {
  for (
    const url of [
      "postgres://orch:s3cr3t-pw@db/queue",
      "postgresql://orch:s3cr3t-pw@/queue?host=/run/postgresql",
      "postgres://orch@db/queue?password=s3cr3t-pw",
    ]
  ) {
    const e = await refusal(() => parseStoreSpec(url, "--to"));
    assertMatch(e.message, /^--to: the URL holds a password/);
    assertMatch(e.hint ?? "", /store-password-file|ORCH_STORE_PASSWORD/);
    assertNotMatch(`${e.message} ${e.hint}`, /s3cr3t/);
  }
});

Deno.test("a wrong part of a URL is named", async () => {
  const cases: [string, RegExp][] = [
    ["", /--to: is empty/],
    ["mysql://u@h/d", /scheme "mysql" is not one of sqlite, postgres/],
    ["sqlite:", /names no file/],
    ["postgres://h/d", /names no user/],
    ["postgres://u@h", /names no database/],
    ["postgres://u@h/a/b", /names no database, or more than one/],
    ["postgres://u@h:99999/d", /not a URL|port/],
    ["postgres://u@h/d?sslmode=prefer", /sslmode "prefer" is not one of disable, require/],
    ["postgres://u@h/d?sslmode=require&sslmode=disable", /"sslmode" is given twice/],
    ["postgres://u@h/d?connect_timeout=3", /parameter "connect_timeout"; only host, sslmode/],
    ["postgres://u@h/d?host=relative", /absolute folder of a Unix socket/],
    ["postgres://u@/d?host=/run/pg&sslmode=verify-full", /no TLS on a socket/],
    ["postgres://u@h/d\x1b[31m", /control character/],
    ["postgres://u@h/d#x", /fragment/],
  ];
  for (const [text, re] of cases) {
    const e = await refusal(() => parseStoreSpec(text, "--to"));
    assertMatch(e.message, re, text);
    assertMatch(e.message, /^--to: /, text);
  }
});

Deno.test("the password comes from the file, else ORCH_STORE_PASSWORD, else PGPASSWORD, else none", async () => {
  await withTempDir(async (dir) => {
    const spec = pgSpec("postgres://u@h/d");
    const file = join(dir, "pw");
    await Deno.writeTextFile(file, "from-file\n", { mode: 0o600 });
    await Deno.chmod(file, 0o600);
    const env = (vars: Record<string, string>) => (k: string) => vars[k];
    const both = env({ ORCH_STORE_PASSWORD: "from-orch", PGPASSWORD: "from-pg" });
    let c = await storeConnection(spec, { passwordFile: file, env: both });
    assertEquals([c.password, c.passwordFrom], ["from-file", `store_password_file ${file}`]);
    c = await storeConnection(spec, { env: both });
    assertEquals([c.password, c.passwordFrom], [
      "from-orch",
      "the environment (ORCH_STORE_PASSWORD)",
    ]);
    c = await storeConnection(spec, { env: env({ PGPASSWORD: "from-pg" }) });
    assertEquals([c.password, c.passwordFrom], ["from-pg", "the environment (PGPASSWORD)"]);
    c = await storeConnection(spec, { env: env({}) });
    assertEquals([c.password, c.passwordFrom, "password" in c], [undefined, "none", false]);
  });
});

Deno.test("a password file that group or others may read is refused, naming its mode, never its content", async () => {
  await withTempDir(async (dir) => {
    const spec = pgSpec("postgres://u@h/d");
    const file = join(dir, "pw");
    await Deno.writeTextFile(file, "hunter2-secret\n");
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      await Deno.chmod(file, mode);
      const e = await refusal(() => storeConnection(spec, { passwordFile: file }));
      assertMatch(e.message, new RegExp(`store_password_file .* has mode 0${mode.toString(8)}`));
      assertMatch(e.hint ?? "", /chmod 600/);
      assertNotMatch(`${e.message} ${e.hint}`, /hunter2/);
    }
    await Deno.chmod(file, 0o400);
    assertEquals((await storeConnection(spec, { passwordFile: file })).password, "hunter2-secret");
  });
});

Deno.test("an empty, several-line or absent password file is refused, never quoted", async () => {
  await withTempDir(async (dir) => {
    const spec = pgSpec("postgres://u@h/d");
    const file = join(dir, "pw");
    await Deno.writeTextFile(file, "", { mode: 0o600 });
    assertMatch(
      (await refusal(() => storeConnection(spec, { passwordFile: file }))).message,
      /is empty/,
    );
    await Deno.writeTextFile(file, "line-one-x\nline-two-y\n");
    const e = await refusal(() => storeConnection(spec, { passwordFile: file }));
    assertMatch(e.message, /more than one line/);
    assertNotMatch(e.message, /line-one|line-two/);
    assertMatch(
      (await refusal(() => storeConnection(spec, { passwordFile: join(dir, "absent") }))).message,
      /cannot read store_password_file .*absent/,
    );
  });
});

Deno.test("the CA comes from store_tls_ca or sslrootcert, is read, and only with a verifying sslmode", async () => {
  await withTempDir(async (dir) => {
    const ca = join(dir, "ca.pem");
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    await Deno.writeTextFile(ca, pem);
    const c = await storeConnection(pgSpec(`postgres://u@h/d?sslrootcert=${ca}`));
    assertEquals(c.tls, { mode: "verify-full", ca: pem });
    const k = await storeConnection(pgSpec("postgres://u@h/d?sslmode=verify-ca"), { tlsCa: ca });
    assertEquals(k.tls, { mode: "verify-ca", ca: pem });
    assertMatch(
      (await refusal(() =>
        storeConnection(pgSpec("postgres://u@h/d?sslmode=require"), { tlsCa: ca })
      )).message,
      /sslmode require does not check/,
    );
    assertMatch(
      (await refusal(() =>
        storeConnection(pgSpec(`postgres://u@h/d?sslrootcert=${ca}`), { tlsCa: `${ca}.other` })
      )).message,
      /name different files/,
    );
    const notPem = join(dir, "x");
    await Deno.writeTextFile(notPem, "hello");
    assertMatch(
      (await refusal(() => storeConnection(pgSpec("postgres://u@h/d"), { tlsCa: notPem }))).message,
      /holds no PEM certificate/,
    );
  });
});

Deno.test("postgres: without // is refused, not taken for a SQLite path, and what follows is never quoted", async () => {
  for (
    const text of [
      "postgres:orch:s3cr3t-pw@db/orch",
      "postgresql:orch:s3cr3t-pw@db/orch",
      "POSTGRES:orch:s3cr3t-pw@db/orch",
      "PostgreSQL:/orch:s3cr3t-pw@db/orch",
      "postgres:",
    ]
  ) {
    const e = await refusal(() => parseStoreSpec(text, "--store"));
    assertMatch(e.message, /^--store: postgres(ql)?: is not followed by \/\//i, text);
    assertMatch(e.message, /postgres:\/\/USER@HOST\[:PORT\]\/DB/, text);
    assertNotMatch(`${e.message} ${e.hint}`, /s3cr3t|orch:|@db/, text);
  }
  // A path that merely holds the word is still a path.
  assertEquals(parseStoreSpec("./postgres:db", "--store"), {
    kind: "sqlite",
    path: "./postgres:db",
  });
});
