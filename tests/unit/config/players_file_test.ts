import { assert, assertEquals, assertRejects, assertThrows } from "../../_helpers/assert.ts";
import { join } from "node:path";
import { OrchError } from "../../../lib/errors.ts";
import { parsePlayersFile, readPlayersFile } from "../../../lib/config/players_file.ts";
import { LABEL_KEY_DESC, LABEL_VALUE_DESC } from "../../../lib/protocol/targets.ts";

const HOST_DESC =
  "a host name (letters, digits, '-' and '.', each label 1-63 characters, at most 253 in all)";

function configError(fn: () => unknown, message: string): void {
  const err = assertThrows(fn);
  assert(err instanceof OrchError, `expected an OrchError, got ${err}`);
  assertEquals(err.code, "config");
  assertEquals(err.message, message);
}

/** A players file of `list`, none labelled. */
function names(...list: string[]): Map<string, Record<string, string>> {
  return new Map(list.map((n) => [n, {}]));
}

Deno.test("a name may be followed by its labels; plain names stay valid", () => {
  const text = "web1 role=web dc=syd tier=1   # front\nWeb2\trole=web  dc=mel\ndb1\n";
  assertEquals(
    parsePlayersFile(text, "f"),
    new Map<string, Record<string, string>>([
      ["web1", { role: "web", dc: "syd", tier: "1" }],
      ["web2", { role: "web", dc: "mel" }],
      ["db1", {}],
    ]),
  );
});

Deno.test("a bad label is an error naming the file, the line and the label", () => {
  configError(
    () => parsePlayersFile("p1\nweb1 role=web dc\n", "/etc/players"),
    `/etc/players:2: "dc" after player web1 is not a label (KEY=VALUE, as in role=web)`,
  );
  configError(
    () => parsePlayersFile("web1 role=web 1dc=syd\n", "f"),
    `f:1: player web1: "1dc" is not ${LABEL_KEY_DESC}`,
  );
  configError(
    () => parsePlayersFile("web1 role=\n", "f"),
    `f:1: player web1: the value of role, "", is not ${LABEL_VALUE_DESC}`,
  );
  configError(
    () => parsePlayersFile("web1 role=web role=db\n", "f"),
    "f:1: player web1 has the label role twice",
  );
  configError(
    () => parsePlayersFile("bad_name role=web\n", "f"),
    `f:1: "bad_name" is not ${HOST_DESC}`,
  );
});

Deno.test("the players file lists one name per line; comments and blank lines are ignored", () => {
  const text = "# players allowed\np1\n\n   \nweb-1.example.com   # the web box\n  db2\t\n#p9\n";
  assertEquals(parsePlayersFile(text, "/etc/players"), names("p1", "web-1.example.com", "db2"));
});

Deno.test("names are folded to lower case", () => {
  assertEquals(
    parsePlayersFile("Web1.Example.COM\nP2\n", "f"),
    names("web1.example.com", "p2"),
  );
});

Deno.test("CRLF line ends are accepted", () => {
  assertEquals(parsePlayersFile("p1\r\np2\r\n", "f"), names("p1", "p2"));
});

Deno.test("an empty players file allows no one", () => {
  assertEquals(parsePlayersFile("", "f"), names());
  assertEquals(parsePlayersFile("# nobody yet\n", "f"), names());
});

Deno.test("a name listed twice is an error at the second line, regardless of case", () => {
  configError(
    () => parsePlayersFile("p1\np2\n\nP1\n", "/etc/players"),
    "/etc/players:4: player p1 is listed twice",
  );
});

Deno.test("a name that is not a host name is an error at its line", () => {
  configError(
    () => parsePlayersFile("p1\n# ok\nbad_name\n", "/etc/players"),
    `/etc/players:3: "bad_name" is not ${HOST_DESC}`,
  );
  configError(() => parsePlayersFile("p1 p2\n", "f"), `f:1: "p1 p2" is not ${HOST_DESC}`);
  configError(() => parsePlayersFile("-p1\n", "f"), `f:1: "-p1" is not ${HOST_DESC}`);
});

Deno.test("reading a players file that does not exist says so, with a hint", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "players");
    const err = await assertRejects(() => readPlayersFile(file));
    assert(err instanceof OrchError);
    assertEquals(err.code, "config");
    assertEquals(err.message, `players file ${file} does not exist`);
    assertEquals(
      err.hint,
      "list the names of the players allowed to connect, one per line, each with its labels",
    );
    await Deno.writeTextFile(file, "p1\nP2\n");
    assertEquals(await readPlayersFile(file), names("p1", "p2"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
