import { join } from "node:path";
import { assertEquals } from "../../_helpers/assert.ts";
import {
  type AccountFiles,
  accountProblem,
  parsePasswd,
  resolveAccount,
  userName,
} from "../../../lib/exec/accounts.ts";

const PASSWD = `root:x:0:0:root:/root:/bin/bash
# a comment is no entry
broken:x:notanumber:1::/:/bin/sh
deploy:x:1001:1001:Deploy,,,:/home/deploy:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
`;
const GROUP = `root:x:0:
deploy:x:1001:
www-data:x:33:deploy
`;

async function withFiles(fn: (files: AccountFiles) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const files = { passwd: join(dir, "passwd"), group: join(dir, "group") };
    await Deno.writeTextFile(files.passwd, PASSWD);
    await Deno.writeTextFile(files.group, GROUP);
    await fn(files);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("passwd lines that are not entries are skipped", () => {
  assertEquals(parsePasswd(PASSWD).map((e) => e.name), ["root", "deploy", "nobody"]);
});

Deno.test("a user is found by name or id, with its primary group and home", async () => {
  await withFiles((files) => {
    const deploy = { uid: 1001, gid: 1001, user: "deploy", home: "/home/deploy" };
    assertEquals(resolveAccount("deploy", null, files), deploy);
    assertEquals(resolveAccount("1001", null, files), deploy);
  });
});

Deno.test("a group replaces the primary group, by name or id", async () => {
  await withFiles((files) => {
    assertEquals(resolveAccount("deploy", "www-data", files), {
      uid: 1001,
      gid: 33,
      user: "deploy",
      home: "/home/deploy",
    });
    assertEquals(resolveAccount("deploy", "7", files), {
      uid: 1001,
      gid: 7,
      user: "deploy",
      home: "/home/deploy",
    });
  });
});

Deno.test("a numeric user with no entry needs a group; a name needs an entry", async () => {
  await withFiles((files) => {
    assertEquals(resolveAccount("4242", "4242", files), {
      uid: 4242,
      gid: 4242,
      user: "4242",
      home: "/",
    });
    assertEquals(resolveAccount("4242", null, files), `no user "4242" in ${files.passwd}`);
    assertEquals(resolveAccount("ghost", null, files), `no user "ghost" in ${files.passwd}`);
    assertEquals(resolveAccount("broken", null, files), `no user "broken" in ${files.passwd}`);
    assertEquals(
      resolveAccount("deploy", "nogroup", files),
      `no group "nogroup" in ${files.group}`,
    );
  });
});

Deno.test("lint reports an unknown user only where the host has a passwd file to tell", async () => {
  await withFiles(async (files) => {
    assertEquals(accountProblem("ghost", null, files), `no user "ghost" in ${files.passwd}`);
    assertEquals(accountProblem("deploy", null, files), undefined);
    await Deno.remove(files.passwd);
    assertEquals(accountProblem("ghost", null, files), undefined);
    // At run time the player cannot resolve it, and refuses.
    assertEquals(
      resolveAccount("ghost", null, files),
      `user "ghost" cannot be looked up: ${files.passwd} does not exist`,
    );
  });
});

Deno.test("a user's name comes from the passwd file, else its id", async () => {
  await withFiles((files) => {
    assertEquals(userName(65534, files), "nobody");
    assertEquals(userName(777, files), "777");
  });
});
