/**
 * The Peer's handling of frames over a real loopback socket (plain TCP: the
 * framing and the rules do not depend on TLS, which the integration tests
 * cover).
 */

import net from "node:net";
import { assert, assertEquals, assertMatch } from "../../_helpers/assert.ts";
import { encodeFrame, FrameDecoder, type Message } from "../../../lib/protocol/mod.ts";
import { Peer, type TLSSocket } from "../../../lib/tls/mod.ts";

interface Harness extends AsyncDisposable {
  /** The side under test. */
  peer: Peer<Message, Message>;
  /** Writes raw frames to the peer. */
  send(value: unknown): void;
  received: Message[];
  unknown: string[];
  /** Resolves with why the peer closed. */
  closed: Promise<string>;
  /** Frames the peer sent, decoded, in order. */
  sent: unknown[];
  /** Calls the peer made to its socket's write. */
  writes: number;
  /** Resolves when the peer's side ends the connection. */
  ended: Promise<void>;
}

/** A Peer on one end of a loopback connection that accepts `hello`, then `ready` after a hello. */
async function harness(): Promise<Harness> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
  const client = net.connect(port, "127.0.0.1");
  client.on("error", () => {});
  const sent: unknown[] = [];
  const decoder = new FrameDecoder();
  client.on("data", (chunk: Uint8Array) => sent.push(...decoder.push(chunk)));
  const ended = new Promise<void>((resolve) => client.once("end", resolve));
  const socket = await accepted;
  const write = socket.write.bind(socket);
  const counts = { writes: 0 };
  socket.write = ((...args: Parameters<typeof write>) => {
    counts.writes++;
    return write(...args);
  }) as typeof socket.write;
  const received: Message[] = [];
  const unknown: string[] = [];
  let onClosed: (why: string) => void = () => {};
  const closed = new Promise<string>((resolve) => (onClosed = resolve));
  const peer: Peer<Message, Message> = new Peer(socket as unknown as TLSSocket, {
    maxFrame: 1 << 20,
    heartbeatMs: 60_000,
    allowed: ["hello"],
    onMessage: (m) => {
      received.push(m);
      if (m.type === "hello") peer.allow(["ready"]);
    },
    onUnknownType: (type) => unknown.push(type),
    onClose: onClosed,
  });
  return {
    peer,
    send: (value) => client.write(encodeFrame(value)),
    received,
    unknown,
    closed,
    sent,
    get writes() {
      return counts.writes;
    },
    ended,
    async [Symbol.asyncDispose]() {
      const gone = (socket as { closed?: boolean }).closed
        ? Promise.resolve()
        : new Promise((resolve) => socket.once("close", resolve));
      peer.close("test over");
      client.destroy();
      await gone;
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const HELLO = {
  type: "hello",
  name: "p1",
  version: "0.1.0",
  protocol: 1,
  slots: 1,
  scores: [],
  journal: [],
};

/** Resolves once `cond` holds, checking after every event-loop turn. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert(cond(), "condition never held");
}

Deno.test("before the handshake, a message of a type this build does not know closes the connection", async () => {
  await using h = await harness();
  h.send({ type: "future_thing" });
  assertMatch(await h.closed, /^protocol error: unexpected message type "future_thing"$/);
  assertEquals(h.unknown, []);
});

Deno.test("after the handshake, unknown types are reported once each and ignored; the rest arrives", async () => {
  await using h = await harness();
  h.send(HELLO);
  h.send({ type: "future_thing" });
  h.send({ type: "future_thing", more: 1 });
  h.send({ type: "other_thing" });
  h.send({ type: "ready", slots: 2 });
  await until(() => h.received.length === 2 || h.peer.closed);
  assertEquals(h.received.map((m) => m.type), ["hello", "ready"]);
  assertEquals(h.unknown, ["future_thing", "other_thing"]);
  assert(!h.peer.closed);
});

Deno.test("an unknown type is reported clipped and with its control characters escaped", async () => {
  await using h = await harness();
  h.send(HELLO);
  h.send({ type: `\x1b[31mred\n${"x".repeat(500)}` });
  h.send({ type: "ready", slots: 1 });
  await until(() => h.received.length === 2 || h.peer.closed);
  assertEquals(h.unknown.length, 1);
  const shown = h.unknown[0];
  assert(![...shown].some((c) => c.charCodeAt(0) < 0x20), shown);
  assert(shown.startsWith("\\u001b[31mred\\u000a"), shown);
  assert(shown.length <= 100, shown);
});

Deno.test("after the handshake, a known type not allowed now still closes the connection", async () => {
  await using h = await harness();
  h.send(HELLO);
  h.send({ type: "cancel", task_id: 1, attempt: 1 });
  assertMatch(await h.closed, /^protocol error: unexpected message type "cancel"$/);
});

Deno.test("after the handshake, a known type that fails validation still closes the connection", async () => {
  await using h = await harness();
  h.send(HELLO);
  h.send({ type: "ready", slots: -1 });
  assertMatch(await h.closed, /^protocol error: ready\.slots: expected 0\.\.1024, got -1$/);
});

Deno.test("messages sent in one turn go out in order, in one write", async () => {
  await using h = await harness();
  for (let t = 1; t <= 3; t++) h.peer.send({ type: "ping", t });
  await until(() => h.sent.length === 3);
  assertEquals(h.sent, [{ type: "ping", t: 1 }, { type: "ping", t: 2 }, { type: "ping", t: 3 }]);
  assertEquals(h.writes, 1);
});

Deno.test("a message sent just before the close still goes out, before the end", async () => {
  await using h = await harness();
  h.peer.send({ type: "refuse", code: "forbidden", message: "not listed" });
  h.peer.close("refused");
  await h.ended;
  assertEquals(h.sent, [{ type: "refuse", code: "forbidden", message: "not listed" }]);
});
