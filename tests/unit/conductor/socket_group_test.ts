import { assertEquals, assertMatch, assertThrows } from "../../_helpers/assert.ts";
import { processGroups, socketGroupId } from "../../../lib/conductor/socket_group.ts";
import { tempDir } from "../../_helpers/proc.ts";
import { join } from "node:path";

Deno.test("a socket group is found by name or number; a missing one is refused naming the key", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "group");
  await Deno.writeTextFile(file, "staff:x:50:alice\nops:x:1200:\n");
  const any = () => null;
  assertEquals(socketGroupId("audience_socket_group", null, file, any), null);
  assertEquals(socketGroupId("audience_socket_group", "ops", file, any), 1200);
  assertEquals(socketGroupId("audience_socket_group", "77", file, any), 77);
  const e = assertThrows(() => socketGroupId("audience_socket_group", "nope", file, any));
  assertMatch(e.message, /^audience_socket_group: no group "nope" in /);
});

Deno.test("a group the conductor's user is not in is refused at start, with the systemd fix", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "group");
  await Deno.writeTextFile(file, "staff:x:50:alice\nops:x:1200:\n");
  const held = () => [999, 50];
  assertEquals(socketGroupId("audience_socket_group", "staff", file, held), 50);
  const e = assertThrows(() => socketGroupId("audience_socket_group", "ops", file, held));
  assertMatch(e.message, /not in group ops, so it cannot give the socket that group/);
  assertMatch((e as Error & { hint?: string }).hint ?? "", /SupplementaryGroups=ops/);
});

Deno.test("root may give the socket any group; another user holds its own groups", () => {
  const groups = processGroups();
  if (Deno.uid() === 0) assertEquals(groups, null);
  else assertEquals(groups?.includes(Deno.gid()!), true);
});
