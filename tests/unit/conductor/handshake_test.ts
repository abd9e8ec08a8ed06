import { assertEquals } from "../../_helpers/assert.ts";
import { judgeHello, reconcile } from "../../../lib/conductor/handshake.ts";
import { type Hello, PROTOCOL_VERSION } from "../../../lib/protocol/mod.ts";

const hello = (name: string, extra: Partial<Hello> = {}): Hello => ({
  type: "hello",
  name,
  version: "test",
  protocol: PROTOCOL_VERSION,
  slots: 1,
  scores: [],
  journal: [],
  ...extra,
});
const ctx = { authorised: new Set(["web1"]), playersFile: "/etc/orchestra/players" };
const cert = (cn: string, role: string | null = "player") => ({ cn, role, names: [cn] });

Deno.test("a hello is accepted from a listed player whose certificate holds its name", () => {
  assertEquals(judgeHello(hello("WEB1"), cert("web1"), ctx), { ok: true, name: "web1", major: 1 });
});

Deno.test("a hello is refused for the wrong role, a name not in the certificate, or not listed", () => {
  assertEquals(judgeHello(hello("web1"), cert("web1", "audience"), ctx), {
    ok: false,
    code: "forbidden",
    message: "the certificate is for audience, not a player",
  });
  assertEquals(judgeHello(hello("web1"), cert("web2"), ctx), {
    ok: false,
    code: "forbidden",
    message: "the certificate is for web2, not web1",
  });
  assertEquals(judgeHello(hello("web2"), cert("web2"), ctx), {
    ok: false,
    code: "forbidden",
    message: "web2 is not in the players file /etc/orchestra/players",
  });
});

Deno.test("reconcile: in the journal → started; not in it → unstarted if only sent, lost if it ran", () => {
  const held = [
    { id: 1, attempt: 1, state: "assigned" as const, cancelRequested: false },
    { id: 2, attempt: 1, state: "assigned" as const, cancelRequested: false },
    { id: 3, attempt: 2, state: "running" as const, cancelRequested: false },
    { id: 4, attempt: 1, state: "running" as const, cancelRequested: true },
  ];
  const journal = [
    { task_id: 1, attempt: 1, conductor_id: "c", state: "running" as const },
    { task_id: 4, attempt: 1, conductor_id: "c", state: "running" as const },
    { task_id: 9, attempt: 1, conductor_id: "c", state: "running" as const },
    { task_id: 8, attempt: 1, conductor_id: "c", state: "finished" as const },
    { task_id: 2, attempt: 1, conductor_id: "other", state: "running" as const },
  ];
  assertEquals(reconcile(held, journal, "c"), {
    started: [1],
    unstarted: [2],
    lost: [3],
    cancel: [{ task_id: 4, attempt: 1 }, { task_id: 9, attempt: 1 }],
  });
});

Deno.test("reconcile: another attempt of the same task in the journal does not count", () => {
  const held = [{ id: 1, attempt: 2, state: "running" as const, cancelRequested: false }];
  const journal = [{ task_id: 1, attempt: 1, conductor_id: "c", state: "finished" as const }];
  assertEquals(reconcile(held, journal, "c"), {
    started: [],
    unstarted: [],
    lost: [1],
    cancel: [],
  });
});

Deno.test("a hello with no protocol major in common is refused, naming both ranges", () => {
  const v = judgeHello(
    hello("web1", { protocol: 2, protocols: { min: 2, max: 3 } }),
    cert("web1"),
    ctx,
  );
  assertEquals(v.ok, false);
  assertEquals(!v.ok && v.code, "protocol");
  assertEquals(
    !v.ok && v.message,
    "no protocol version in common: the player speaks 2..3, this conductor speaks 1",
  );
});
