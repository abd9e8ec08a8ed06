import { assert, assertEquals } from "../../_helpers/assert.ts";
import { canonicalJson, requestDigest } from "../../../lib/conductor/request_digest.ts";
import { decodeSubmit } from "../../../lib/protocol/mod.ts";

const BASE = {
  score: "deploy",
  scope: "all",
  targets: ["web*"],
  params: { VERSION: "1.2", TOKEN: "s3cr3t" },
  secret: ["TOKEN"],
};

Deno.test("a request's digest ignores key order and secret values, and follows everything else", async () => {
  const digest = (over: Record<string, unknown>, secret = ["TOKEN"]) =>
    requestDigest(decodeSubmit({ ...BASE, ...over }), secret);
  const first = await digest({});
  assertEquals(first, await digest({ params: { TOKEN: "s3cr3t", VERSION: "1.2" } }));
  // A secret value never reaches the digest: another value gives the same one.
  assertEquals(first, await digest({ params: { VERSION: "1.2", TOKEN: "other" } }));
  for (
    const over of [
      { params: { VERSION: "1.3", TOKEN: "s3cr3t" } },
      { scope: "one" },
      { targets: ["web1"] },
      { score: "other" },
      { retries: 1 },
      { timeout_ms: 1000 },
      { batch: { count: 1 } },
      { secret: [] },
    ]
  ) {
    assert(first !== await digest(over), JSON.stringify(over));
  }
  // A key the score declares secret (not marked by the request) is left out as well.
  assertEquals(
    await digest({ secret: [], params: { VERSION: "1.2", TOKEN: "a" } }, ["TOKEN"]),
    await digest({ secret: [], params: { VERSION: "1.2", TOKEN: "b" } }, ["TOKEN"]),
  );
});

Deno.test("canonical JSON sorts keys at every depth and leaves undefined out", () => {
  assertEquals(
    canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null }, x: undefined }),
    '{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}',
  );
});
