import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../../_helpers/assert.ts";
import { withTempDir } from "../../_helpers/proc.ts";
import { OrchError } from "../../../lib/errors.ts";
import { loadSecretsKey, openSealed, SecretBox } from "../../../lib/conductor/secrets.ts";
import type { JobRecord } from "../../../lib/store/mod.ts";
import { jobRecord } from "../store/conformance.ts";

const KEY = new Uint8Array(32).map((_, i) => i * 7 + 1);

Deno.test("a sealed value is AES-256-GCM that WebCrypto opens with the job id and key as associated data", async () => {
  const box = new SecretBox(KEY);
  const sealed = box.seal(42, "TOKEN", "hunter2 ✓");
  assert(sealed.startsWith("v1:") && !sealed.includes("hunter2"));
  const bytes = Uint8Array.from(atob(sealed.slice(3)), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey("raw", KEY, "AES-GCM", false, ["decrypt"]);
  const plain = await crypto.subtle.decrypt(
    {
      name: "AES-GCM",
      iv: bytes.subarray(0, 12),
      additionalData: new TextEncoder().encode("orch secret param\0" + "42\0TOKEN"),
    },
    key,
    bytes.subarray(12),
  );
  assertEquals(new TextDecoder().decode(plain), "hunter2 ✓");
  assertEquals(box.open(42, "TOKEN", sealed), "hunter2 ✓");
  // A fresh nonce each time.
  assert(box.seal(42, "TOKEN", "hunter2 ✓") !== sealed);
});

Deno.test("a sealed value opens only for its job, its key, and the key that sealed it", () => {
  const box = new SecretBox(KEY);
  const sealed = box.seal(1, "A", "v");
  assertEquals(box.open(2, "A", sealed), undefined);
  assertEquals(box.open(1, "B", sealed), undefined);
  assertEquals(new SecretBox(new Uint8Array(32)).open(1, "A", sealed), undefined);
  assertEquals(box.open(1, "A", sealed.slice(0, -4) + "AAAA"), undefined);
  assertEquals(box.open(1, "A", "garbage"), undefined);
});

Deno.test("openSealed restores sealed values, leaves memory-only ones missing, refuses a wrong or missing key", () => {
  const box = new SecretBox(KEY);
  const jobs: JobRecord[] = [
    jobRecord(1, { params: { A: "1" }, secrets: { T: box.seal(1, "T", "t1") } }),
    jobRecord(2, { params: {}, secrets: { U: null } }),
  ];
  openSealed(jobs, box);
  assertEquals(jobs.map((j) => j.params), [{ A: "1", T: "t1" }, {}]);
  const again = [jobRecord(1, { params: {}, secrets: { T: box.seal(1, "T", "t1") } })];
  for (const other of [null, new SecretBox(new Uint8Array(32))]) {
    try {
      openSealed(again, other);
      throw new Error("not refused");
    } catch (err) {
      assert(err instanceof OrchError && err.code === "config", String(err));
      assert(!err.message.includes("t1"));
    }
  }
});

Deno.test("a secrets_key file: 32 raw bytes or their base64, mode 0600 or 0400", async () => {
  await withTempDir(async (dir) => {
    const raw = join(dir, "raw.key");
    await Deno.writeFile(raw, KEY, { mode: 0o600 });
    const b64 = join(dir, "b64.key");
    await Deno.writeTextFile(b64, btoa(String.fromCharCode(...KEY)) + "\n", { mode: 0o400 });
    const sealed = (await loadSecretsKey(raw)).seal(1, "A", "v");
    assertEquals((await loadSecretsKey(b64)).open(1, "A", sealed), "v");

    await Deno.chmod(raw, 0o640);
    await assertRejects(
      () => loadSecretsKey(raw),
      /^secrets_key .*raw\.key has mode 0640; it must be 0600 or 0400$/,
    );
    const short = join(dir, "short.key");
    await Deno.writeTextFile(short, "c2hvcnQ=\n", { mode: 0o600 });
    await assertRejects(() => loadSecretsKey(short), /short\.key holds no key: it must hold 32/);
    await assertRejects(() => loadSecretsKey(join(dir, "absent.key")), /cannot read secrets_key/);
  });
});
