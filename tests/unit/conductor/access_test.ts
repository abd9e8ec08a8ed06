import fc from "fast-check";
import { assert, assertEquals, assertMatch, assertThrows } from "../../_helpers/assert.ts";
import { AccessControl, type Principal } from "../../../lib/conductor/access.ts";
import { parseGrantsFile } from "../../../lib/config/grants_file.ts";
import { OrchError } from "../../../lib/errors.ts";
import { globMatch } from "../../../lib/protocol/glob.ts";

const FILE = "/etc/orchestra/grants.yaml";

function grants(text: string): AccessControl {
  return new AccessControl(parseGrantsFile(text, FILE), FILE);
}

const BOB: Principal = { label: "local:bob", groups: ["bob", "ops"] };
const ALICE: Principal = { label: "audience:alice", groups: [] };

Deno.test("globs match whole names with * and ?", () => {
  assert(globMatch("web*", "web1"));
  assert(globMatch("web*", "web"));
  assert(globMatch("*", ""));
  assert(globMatch("w?b*.example.com", "web12.example.com"));
  assert(!globMatch("web*", "db1"));
  assert(!globMatch("web?", "web"));
  assert(!globMatch("web", "web1"));
  assert(globMatch("*a*b*c", "xxaxxbxxc"));
  assert(!globMatch("*a*b*c", "xxaxxbxx"));
});

Deno.test("a glob matches like the equivalent regular expression, and in linear time", () => {
  const alphabet = fc.constantFrom("a", "b", "*", "?");
  fc.assert(
    fc.property(
      fc.array(alphabet, { maxLength: 12 }).map((a) => a.join("")),
      fc.array(fc.constantFrom("a", "b"), { maxLength: 12 }).map((a) => a.join("")),
      (glob, name) => {
        const re = new RegExp(`^${glob.replaceAll("*", ".*").replaceAll("?", ".")}$`);
        assertEquals(globMatch(glob, name), re.test(name), `${glob} ~ ${name}`);
      },
    ),
  );
  // A pathological glob over a long name still answers at once.
  assert(!globMatch(`${"*a".repeat(100)}b`, "a".repeat(253)));
});

Deno.test("a submit needs a grant covering the score and every target", () => {
  const a = grants(`grants:
  - who: [group:ops]
    may: [submit, read]
    scores: [deploy-*]
    targets: [web*]
  - who: local:bob
    may: submit
    scores: [uptime]
`);
  assertEquals(a.check(BOB, ["submit"], { score: "deploy-api", targets: ["web1", "web2"] }), null);
  assertEquals(a.check(BOB, ["submit"], { score: "uptime", targets: ["db1"] }), null);
  assertMatch(
    a.check(BOB, ["submit"], { score: "deploy-api", targets: ["web1", "db1"] }) ?? "",
    /^no grant in \/etc\/orchestra\/grants\.yaml gives local:bob submit of score "deploy-api" on db1; its grants: \/etc\/orchestra\/grants\.yaml:2 \(submit, read of deploy-\* on web\*\); \/etc\/orchestra\/grants\.yaml:6 \(submit of uptime on \*\)$/,
  );
  assertMatch(a.check(BOB, ["cancel"]) ?? "", /gives local:bob cancel;/);
  assertMatch(
    a.check(ALICE, ["read", "read_all"]) ?? "",
    /^no grant in .* names audience:alice$/,
  );
  assertMatch(
    a.check({ label: "local:eve", groups: ["eve", "users"] }, ["read"]) ?? "",
    /names local:eve or its groups \(eve, users\)$/,
  );
  // Groups name local users only, never a certificate.
  assert(a.check({ label: "audience:ops", groups: ["ops"] }, ["read"]) !== null);
});

Deno.test("listing every job needs read_all over every score and target", () => {
  const a = grants(`grants:
  - who: audience:*
    may: [read_all]
    scores: [deploy]
  - who: audience:root-*
    may: [all]
`);
  assert(!a.unrestricted(ALICE, "read_all"));
  assert(a.unrestricted({ label: "audience:root-1", groups: [] }, "read_all"));
});

Deno.test("the built-in grants give every verb to root and the conductor's user, on the socket only", () => {
  const a = AccessControl.builtIn("orch");
  assertEquals(a.source, null);
  assertEquals(a.check({ label: "local:orch", groups: [] }, ["cancel_all"]), null);
  assertEquals(a.check({ label: "local:root", groups: [] }, ["audit"]), null);
  assertMatch(
    a.check(ALICE, ["read"]) ?? "",
    /^no grant in the built-in grants \(there is no grants file\) names audience:alice$/,
  );
  assertEquals(AccessControl.builtIn("root").grants[0].who, ["local:root"]);
});

function configError(text: string): string {
  const err = assertThrows(() => parseGrantsFile(text, FILE));
  assert(err instanceof OrchError && err.code === "config", `${err}`);
  return err.message;
}

Deno.test("a bad grants file is refused naming the line and what is wrong", () => {
  assertMatch(configError("grant: []\n"), /grants\.yaml:1: unknown key 'grant'/);
  assertMatch(configError("grants: {}\n"), /grants\.yaml:1: 'grants' must be a list/);
  assertMatch(configError("grants:\n  - may: [all]\n"), /grants\.yaml:2: a grant needs 'who'/);
  assertMatch(
    configError("grants:\n  - who: local:a\n    mey: [all]\n"),
    /grants\.yaml:3: unknown key 'mey' in a grant \(did you mean 'may'\?\)/,
  );
  assertMatch(
    configError("grants:\n  - who: local:a\n    may: [sudo]\n"),
    /grants\.yaml:3: 'may': unknown verb "sudo"/,
  );
  assertMatch(
    configError("grants:\n  - who: [local:a, root]\n    may: all\n"),
    /grants\.yaml:2: 'who' entry 2: "root" is not an identity/,
  );
  assertMatch(
    configError("grants:\n  - who: local:a\n    may: all\n    targets: ['web 1']\n"),
    /grants\.yaml:4: 'targets': "web 1" is not a name or a glob/,
  );
  assertMatch(
    configError("grants:\n  - who: &w local:a\n    may: all\n  - who: *w\n    may: all\n"),
    /grants\.yaml:4: 'who': YAML aliases are not allowed/,
  );
  assertMatch(
    configError("grants:\n  - who: []\n    may: all\n"),
    /grants\.yaml:2: 'who': the list is empty/,
  );
  assertMatch(
    configError("grants:\n  - who: local:a\n    may: 3\n"),
    /expected a non-empty string/,
  );
  assertEquals(parseGrantsFile("", FILE), []);
  assertEquals(parseGrantsFile("grants:\n", FILE), []);
});

Deno.test("arbitrary text never crashes the grants parser: it is refused as config, or every grant is well-formed", () => {
  const piece = fc.constantFrom(
    "grants:",
    "\n",
    "  - ",
    "who: ",
    "may: ",
    "scores: ",
    "targets: ",
    "[",
    "]",
    ", ",
    "local:a",
    "audience:*",
    "group:ops",
    "all",
    "submit",
    "web*",
    "&x ",
    "*x",
    "{",
    "}",
    "'",
    '"',
    "#",
    "    ",
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 30 }).map((a) => a.join("")), (text) => {
      let parsed;
      try {
        parsed = parseGrantsFile(text, FILE);
      } catch (err) {
        assert(err instanceof OrchError && err.code === "config", `${text}: ${err}`);
        assertMatch(err.message, /^\/etc\/orchestra\/grants\.yaml:\d+: /);
        return;
      }
      for (const g of parsed) {
        assert(g.who.length > 0 && g.may.size > 0);
        for (const w of g.who) assertMatch(w, /^(audience|local|group):[A-Za-z0-9._@:*?-]+$/);
        for (const s of [...g.scores, ...g.targets]) assertMatch(s, /^[A-Za-z0-9._@*?-]+$/);
      }
    }),
    { numRuns: 2000 },
  );
});
