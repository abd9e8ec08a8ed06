import { assertEquals, assertThrows } from "../../_helpers/assert.ts";
import {
  type Matchable,
  matchTarget,
  parseTarget,
  resolveTargets,
  splitTargetList,
} from "../../../lib/protocol/targets.ts";

const FLEET: Matchable[] = [
  { name: "web1", labels: { role: "web", dc: "syd", tier: "1" }, facts: { os: "linux" } },
  { name: "web2", labels: { role: "web", dc: "mel" }, facts: { os: "linux" } },
  { name: "db1", labels: { role: "db", dc: "syd" }, facts: { os: "freebsd" } },
  { name: "bastion", labels: {}, facts: {} },
];

function choose(...targets: string[]): string[] {
  const names = new Set(FLEET.map((m) => m.name));
  return resolveTargets(targets.map((t) => parseTarget(t, "t")), {
    has: (n) => names.has(n),
    all: () => FLEET,
    size: FLEET.length,
  }).hosts;
}

Deno.test("names, globs and selectors choose players; commas are AND, several targets a union", () => {
  assertEquals(choose("web*"), ["web1", "web2"]);
  assertEquals(choose("role=web,dc=syd"), ["web1"]);
  assertEquals(
    choose("dc!=mel"),
    ["web1", "db1", "bastion"],
    "!= matches a player without the key",
  );
  assertEquals(choose("fact.os=linux,dc=mel"), ["web2"]);
  assertEquals(choose("role=w*"), ["web1", "web2"]);
  assertEquals(choose("web*,tier=1"), ["web1"]);
  assertEquals(choose("db1", "role=web", "web1"), ["db1", "web1", "web2"], "each host once");
  assertEquals(choose("WEB?"), ["web1", "web2"], "names are matched without regard to case");
});

Deno.test("a target that matches nothing, or a name not listed, is refused naming each", () => {
  assertThrows(
    () => choose("role=cache", "web1", "nope", "dc=per"),
    /^target nope not in the players file; targets "role=cache", "dc=per" match no player in the players file$/,
  );
  assertThrows(() => choose("fact.os=windows"), /^target "fact.os=windows" matches no player/);
});

Deno.test("bad expressions are refused naming the bad part", () => {
  assertThrows(
    () => parseTarget("role=web,", "--target"),
    /^--target: "role=web," has an empty part$/,
  );
  assertThrows(() => parseTarget("role==web", "t"), /"=web" is not a label value/);
  assertThrows(() => parseTarget("ro le=web", "t"), /"ro le" is not a label key/);
  assertThrows(() => parseTarget("fact.=x", "t"), /"" is not a label key/);
  assertThrows(() => parseTarget("a,".repeat(17) + "a", "t"), /has more than 16 parts/);
  assertThrows(() => parseTarget("x".repeat(1025), "t"), /at most 1024 characters/);
});

Deno.test("expressions take a normal form, and a command line's list of hosts is split", () => {
  assertEquals(parseTarget(" Role=web , DC!=Mel ", "t").text, "Role=web,DC!=Mel");
  assertEquals(parseTarget("Web*", "t").text, "web*");
  assertEquals(splitTargetList("web1, web2,"), ["web1", "web2"]);
  assertEquals(splitTargetList("role=web,dc=syd"), ["role=web,dc=syd"]);
  assertEquals(matchTarget(parseTarget("bastion", "t"), FLEET[3]), true);
});
