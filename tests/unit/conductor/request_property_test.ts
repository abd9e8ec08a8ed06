/**
 * The audience request decoder under arbitrary input: it never crashes,
 * never answers anything but a 4xx error, and every request it accepts
 * keeps the rules.
 *
 * @module
 */

import fc from "fast-check";
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { readSubmit, taskQuery } from "../../../lib/conductor/api.ts";
import { ERROR_CODES, OrchError } from "../../../lib/errors.ts";
import {
  LIMITS,
  MAX_RETRIES,
  PARAM_KEY,
  parseTarget,
  plainName,
  PLAYER_NAME,
  REQUEST_ID,
  SCORE_NAME,
  type SubmitRequest,
} from "../../../lib/protocol/mod.ts";

function checkAccepted(r: SubmitRequest): void {
  assert(SCORE_NAME.test(r.score), `score ${r.score}`);
  assert(r.scope === "all" || r.scope === "one");
  assert(r.targets.length >= 1 && r.targets.length <= LIMITS.maxTargets);
  assertEquals(new Set(r.targets).size, r.targets.length);
  for (const t of r.targets) {
    // A target is an expression (a name, a glob, selectors), kept in its one written form; a plain
    // name is a host name in lower case.
    const e = parseTarget(t, "target");
    assertEquals(e.text, t, `target ${t}`);
    const name = plainName(e);
    if (name !== null) assert(PLAYER_NAME.test(name) && name === t.toLowerCase(), `target ${t}`);
  }
  const keys = Object.keys(r.params);
  assert(keys.length <= LIMITS.maxParams);
  let total = 0;
  for (const k of keys) {
    assert(PARAM_KEY.test(k), `key ${k}`);
    const v = r.params[k];
    assertEquals(typeof v, "string");
    total += new TextEncoder().encode(k + v).length;
  }
  assert(total <= LIMITS.maxParamsTotal);
  assert(
    Object.getPrototypeOf(r.params) === Object.prototype ||
      Object.getPrototypeOf(r.params) === null,
  );
  if (r.timeout_ms !== null) assert(r.timeout_ms >= 1 && r.timeout_ms <= LIMITS.maxTimeoutMs);
  assert(Number.isSafeInteger(r.retries) && r.retries >= 0 && r.retries <= MAX_RETRIES);
  if (r.request_id !== null) assert(REQUEST_ID.test(r.request_id));
}

/** Decodes `body` as a submit; returns what was accepted, or checks the refusal is a 4xx. */
async function decode(body: BodyInit, type = "application/json"): Promise<SubmitRequest | null> {
  try {
    return await readSubmit(
      new Request("http://orch/v1/jobs", {
        method: "POST",
        body,
        headers: { "content-type": type },
      }),
    );
  } catch (err) {
    assert(err instanceof OrchError, `not an OrchError: ${err}`);
    const status = ERROR_CODES[err.code];
    assert(status >= 400 && status < 500, `${err.code}: ${err.message}`);
    return null;
  }
}

/** Mostly `good`, sometimes `bad`: so that a submit is often valid but for one field. */
function mostly<T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof({ arbitrary: good, weight: 6 }, { arbitrary: bad, weight: 1 });
}

/** Values shaped like a submit, each field sometimes wrong. */
const submitLike = fc.record(
  {
    score: mostly(
      fc.constantFrom("hello", "deploy-2.x"),
      fc.oneof(fc.constantFrom("../x", "", "a".repeat(200), " hello"), fc.string(), fc.integer()),
    ),
    scope: mostly(fc.constantFrom("all", "one"), fc.oneof(fc.constant("some"), fc.anything())),
    targets: mostly(
      fc.array(fc.constantFrom("web1", "WEB1", "db-2.example.com"), { minLength: 1, maxLength: 6 }),
      fc.oneof(
        fc.array(fc.oneof(fc.constantFrom("bad host", "", "web1/x", "-a"), fc.string()), {
          maxLength: 4,
        }).map((bad) => ["web1", ...bad]),
        fc.anything(),
      ),
    ),
    params: mostly(
      fc.dictionary(fc.constantFrom("NAME", "MODE", "x_1"), fc.string(), { maxKeys: 3 }),
      fc.oneof(
        fc.dictionary(
          fc.oneof(fc.constantFrom("__proto__", "constructor", "A=B", "1x", ""), fc.string()),
          fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
          { maxKeys: 4 },
        ),
        fc.anything(),
      ),
    ),
    timeout_ms: mostly(
      fc.integer({ min: 1, max: 100_000 }),
      fc.oneof(fc.integer(), fc.double(), fc.string()),
    ),
    retries: mostly(fc.integer({ min: 0, max: 5 }), fc.oneof(fc.integer(), fc.anything())),
    request_id: mostly(
      fc.constantFrom("r-1", "a.b:c"),
      fc.oneof(fc.constantFrom("", "a b"), fc.string()),
    ),
    extra: fc.anything(),
  },
  { requiredKeys: ["score", "scope", "targets"] },
);

Deno.test("arbitrary JSON values as a submit: a 4xx, or a request that keeps every rule", async () => {
  await fc.assert(
    fc.asyncProperty(fc.oneof(submitLike, fc.anything()), async (value) => {
      const r = await decode(JSON.stringify(value) ?? "null");
      if (r) checkAccepted(r);
    }),
    { numRuns: 3000 },
  );
});

Deno.test("arbitrary bytes as a submit body never crash the decoder", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 300 }),
      fc.constantFrom("application/json", "text/plain", ""),
      async (bytes, type) => {
        const r = await decode(bytes, type);
        if (r) checkAccepted(r);
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("arbitrary query parameters of a task page: a 400, or a query within bounds", () => {
  const key = fc.constantFrom("state", "host", "page", "limit", "output");
  fc.assert(
    fc.property(fc.dictionary(key, fc.oneof(fc.string(), fc.integer().map(String))), (raw) => {
      try {
        const q = taskQuery(new Map(Object.entries(raw)));
        assert(q.page >= 1 && q.limit >= 1 && q.limit <= 200);
        if (q.host !== undefined) assert(PLAYER_NAME.test(q.host));
      } catch (err) {
        assert(err instanceof OrchError && err.code === "invalid", `${err}`);
      }
    }),
    { numRuns: 2000 },
  );
});
