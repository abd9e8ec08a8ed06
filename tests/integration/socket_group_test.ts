/**
 * The audience socket's group and mode are configuration keys: the socket
 * (and the folder its callers write their proofs to) get them before any
 * request is served; a group that does not exist is refused at start.
 */

import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { orch } from "../_helpers/proc.ts";

/** The gid of group `name` in /etc/group. */
function gidOf(name: string): number {
  const line = Deno.readTextFileSync("/etc/group").split("\n").find((l) =>
    l.startsWith(`${name}:`)
  );
  if (!line) throw new Error(`no group ${name} on this machine`);
  return Number(line.split(":")[2]);
}

const isRoot = Deno.uid() === 0;

Deno.test({
  name: "the audience socket gets the group and mode configured, and so does its proof folder",
  ignore: !isRoot, // giving a file another group than one's own needs root (or membership)
  async fn() {
    await using c = await Cluster.create({ players: ["p1"] });
    const group = "daemon";
    const gid = gidOf(group);
    assert(gid !== Deno.gid(), "the test needs a group other than its own");
    const conductor = await c.startConductor([
      "--audience-socket-group",
      group,
      "--audience-socket-mode",
      "0620",
    ]);
    const sock = await Deno.stat(c.socket);
    assert(sock.isSocket, "not a socket");
    assertEquals([sock.gid, (sock.mode ?? 0) & 0o7777], [gid, 0o620]);
    const proofs = await Deno.stat(`${c.socket}.auth`);
    // Sticky, the conductor's; the group may create entries (-wx) where it may connect.
    assertEquals([proofs.gid, (proofs.mode ?? 0) & 0o7777], [gid, 0o1730]);
    // And it serves, through that socket, as before.
    assertEquals((await c.client.players()).map((p) => p.name), ["p1"]);

    // A number is a group too; a restart sets it again on the new socket.
    await conductor.proc.stop();
    await c.startConductor(["--audience-socket-group", String(gidOf("nogroup"))]);
    const again = await Deno.stat(c.socket);
    assertEquals([again.gid, (again.mode ?? 0) & 0o7777], [gidOf("nogroup"), 0o660]);
  },
});

Deno.test("a conductor given an audience socket group that does not exist refuses to start, naming the key", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  const r = await orch(c.conductorArgs(["--init", "--audience-socket-group", "no-such-group"]));
  assertEquals(r.code, 2, r.stderr);
  assertMatch(r.stderr, /audience_socket_group: no group "no-such-group" in \/etc\/group/);
  assertMatch(r.stderr, /hint: name a group of this host/);
  // Nothing listens, and no socket was made.
  await Deno.stat(c.socket).then(
    () => Promise.reject(new Error("a socket was made")),
    () => {},
  );
});
