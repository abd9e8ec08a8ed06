import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../../_helpers/assert.ts";
import { tempDir } from "../../_helpers/proc.ts";
import { clientFromSettings, resolveClientSettings } from "../../../lib/client/mod.ts";
import { OrchError } from "../../../lib/errors.ts";

const PEM_CERT = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
const PEM_KEY = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";

/** Files ca.crt, me.crt and me.key in `dir` (the key with `keyMode`), and the variables naming them. */
async function files(dir: string, keyMode = 0o600, ca = PEM_CERT): Promise<Record<string, string>> {
  await Deno.writeTextFile(join(dir, "ca.crt"), ca);
  await Deno.writeTextFile(join(dir, "me.crt"), PEM_CERT);
  await Deno.writeTextFile(join(dir, "me.key"), PEM_KEY);
  await Deno.chmod(join(dir, "me.key"), keyMode);
  return {
    HOME: dir,
    ORCH_CONDUCTOR: "127.0.0.1:1,127.0.0.2",
    ORCH_CA: join(dir, "ca.crt"),
    ORCH_CERT: join(dir, "me.crt"),
    ORCH_KEY: join(dir, "me.key"),
  };
}

/** The client for `flags` and `vars`, or the OrchError making it threw. */
async function clientOrError(flags: Record<string, string>, vars: Record<string, string>) {
  const settings = await resolveClientSettings(flags, { get: (n) => vars[n] }, {
    systemConfig: "/nonexistent/client.yaml",
  });
  return await clientFromSettings(settings);
}

Deno.test("a client for HTTPS settings holds the PEM texts, the conductors in order and the name to check", async () => {
  await using dir = await tempDir();
  const client = await clientOrError({ conductorName: "orch.example" }, await files(dir.path));
  const e = client.endpoint;
  assert(e.kind === "https");
  assertEquals([e.host, e.port, e.expectName], ["127.0.0.1", 1, "orch.example"]);
  assertEquals(e.others, [{ host: "127.0.0.2", port: 2259, expectName: "orch.example" }]);
  assertEquals([e.tls.ca, e.tls.cert, e.tls.key], [PEM_CERT, PEM_CERT, PEM_KEY]);
  assertEquals(e.files?.cert, join(dir.path, "me.crt"));
  assertEquals(client.where, "https://127.0.0.1:1");
});

Deno.test("a missing certificate file is named with where its path came from; a key others may read is refused", async () => {
  await using dir = await tempDir();
  const vars = await files(dir.path);
  let err = await assertRejects(() =>
    clientOrError({ cert: join(dir.path, "nope.crt") }, vars)
  ) as OrchError;
  assertEquals([err.code, err.message], [
    "config",
    `certificate ${join(dir.path, "nope.crt")} (from --cert) does not exist`,
  ]);
  assertEquals(err.hint, "issue one with: orch ca issue NAME --role audience");
  err = await assertRejects(() => clientOrError({}, { ...vars, ORCH_CA: dir.path })) as OrchError;
  assertEquals(err.message, `CA certificate ${dir.path} (from ORCH_CA) is a directory`);

  await Deno.chmod(join(dir.path, "me.key"), 0o644);
  err = await assertRejects(() => clientOrError({}, vars)) as OrchError;
  assertEquals([err.code, err.message, err.hint], [
    "config",
    `key file ${join(dir.path, "me.key")} (from ORCH_KEY) is accessible by others (mode 0644)`,
    `chmod 600 ${join(dir.path, "me.key")}`,
  ]);
});

Deno.test("a CA file holding no certificate is refused before dialling, naming the file", async () => {
  await using dir = await tempDir();
  const client = await clientOrError({}, await files(dir.path, 0o600, "not a certificate\n"));
  const err = await assertRejects(() => client.health()) as OrchError;
  assertEquals([err.code, err.message], [
    "config",
    `CA certificate ${join(dir.path, "ca.crt")} holds no PEM certificate`,
  ]);
});
