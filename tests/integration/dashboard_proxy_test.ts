/**
 * `orch dashboard` with real processes: a conductor with its audience
 * socket, and `orch dashboard` forwarding a loopback port to it with a
 * proof of the test's user. Requests are raw `node:http` ones, so that the
 * Host, Origin and Cookie headers are the test's to choose.
 */

import http from "node:http";
import { userInfo } from "node:os";
import { assert, assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { openApiChecker } from "../_helpers/openapi.ts";
import { Proc, until } from "../_helpers/proc.ts";
import { DASHBOARD_HEADERS } from "../../lib/dashboard/mod.ts";
import { LIMITS } from "../../lib/protocol/mod.ts";
import { randomLoopbackAddress, startDashboardProxy } from "../../lib/client/dashboard_proxy.ts";

/** A running `orch dashboard`: its address, token and the cookie that carries it. */
interface Dashboard {
  proc: Proc;
  /** The loopback address it listens on (and answers to as Host). */
  host: string;
  port: number;
  token: string;
  cookie: string;
}

/** Starts `orch dashboard` on the cluster's socket and waits for the address it prints. */
async function startDashboard(c: Cluster, args: string[] = []): Promise<Dashboard> {
  const proc = c.track(new Proc("dashboard", ["dashboard", "--socket", c.socket, ...args]));
  const m = await proc.waitFor(
    /^http:\/\/(127\.\d{1,3}\.\d{1,3}\.\d{1,3}):(\d+)\/\?token=([0-9a-f]{64})$/,
  );
  const port = Number(m[2]);
  return { proc, host: m[1], port, token: m[3], cookie: `orch_dashboard_${port}=${m[3]}` };
}

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request to the proxy; `host` defaults to the address it listens on. */
function request(
  d: Dashboard,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawAnswer> {
  const headers: Record<string, string> = { host: `${d.host}:${d.port}`, ...opts.headers };
  if (opts.body !== undefined) {
    headers["content-type"] = "application/json";
    headers["content-length"] = String(new TextEncoder().encode(opts.body).length);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: d.host, port: d.port, method: opts.method ?? "GET", path, headers },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => body += c);
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** An event stream opened through the proxy: its status and text as it arrives. */
interface Stream {
  status: number;
  text: () => string;
  /** Resolves when the text so far matches `re`. */
  waitFor: (re: RegExp) => Promise<void>;
  close: () => void;
}

function openStream(d: Dashboard, path: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: d.host,
      port: d.port,
      path,
      headers: { host: `${d.host}:${d.port}`, cookie: d.cookie, accept: "text/event-stream" },
    }, (res) => {
      if (res.statusCode === 200) {
        try {
          // A stream as the conductor answers it (a refusal may be the proxy's own).
          openApiChecker.check({
            method: "GET",
            path,
            status: 200,
            contentType: String(res.headers["content-type"] ?? ""),
            body: undefined,
          });
        } catch (err) {
          req.destroy();
          return reject(err);
        }
      }
      let text = "";
      // Each whole event, checked against the API's description as it comes; the first that
      // breaks it fails every wait.
      let checked = 0;
      let broken: Error | null = null;
      const waiters = new Set<() => void>();
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        text += c;
        for (
          let end = text.indexOf("\n\n", checked);
          end >= 0;
          end = text.indexOf("\n\n", checked)
        ) {
          const block = text.slice(checked, end);
          checked = end + 2;
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type === undefined || data === undefined || broken) continue;
          try {
            openApiChecker.checkEvent(path, type, JSON.parse(data));
          } catch (err) {
            broken = err as Error;
          }
        }
        for (const w of [...waiters]) w();
      });
      res.on("error", () => {});
      resolve({
        status: res.statusCode ?? 0,
        text: () => text,
        waitFor: (re) =>
          new Promise<void>((ok, fail) => {
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`no ${re} in the stream within 15s: ${text}`));
            }, 15_000);
            const check = () => {
              if (broken) {
                clearTimeout(timer);
                waiters.delete(check);
                return fail(broken);
              }
              if (!re.test(text)) return;
              clearTimeout(timer);
              waiters.delete(check);
              ok();
            };
            waiters.add(check);
            check();
          }),
        close: () => req.destroy(),
      });
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * Sends `text` (raw HTTP) on a new connection to `host:port` and reads what
 * comes back until the server closes the connection; throws if it is still
 * open after `withinMs` (well under the proxy's own 30 s bound).
 */
async function untilClosed(
  host: string,
  port: number,
  text: string,
  withinMs = 10_000,
): Promise<string> {
  const conn = await Deno.connect({ hostname: host, port });
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, withinMs);
  try {
    if (text !== "") await conn.write(new TextEncoder().encode(text));
    const buf = new Uint8Array(16 << 10);
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (err) {
        // Closed by the timer above, or reset by the server (which closes it too).
        if (timedOut || err instanceof Deno.errors.ConnectionReset) break;
        throw err;
      }
      if (n === null) break;
      size += n;
      if (size <= 1 << 20) chunks.push(buf.slice(0, n));
    }
  } finally {
    clearTimeout(timer);
    if (!timedOut) conn.close();
  }
  const got = new TextDecoder().decode(concatChunks(chunks));
  if (timedOut) throw new Error(`the connection is still open after ${withinMs} ms; got: ${got}`);
  return got;
}

function concatChunks(chunks: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return all;
}

const SUBMIT = JSON.stringify({ score: "hello", scope: "all", targets: ["p1"], params: {} });

Deno.test("through orch dashboard with its token: the page with its CSP, the API as the local user, and events as they happen", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  const d = await startDashboard(c);

  // The token in the address is swapped for a cookie, and the address loses it.
  const first = await request(d, `/?token=${d.token}`);
  assertEquals(first.status, 303);
  assertEquals(first.headers.location, "/");
  assertEquals(first.headers["set-cookie"], [
    `${d.cookie}; HttpOnly; SameSite=Strict; Path=/`,
  ]);

  const page = await request(d, "/", { headers: { cookie: d.cookie } });
  assertEquals(page.status, 200);
  assertMatch(page.body, /<title>/i);
  for (const [k, v] of Object.entries(DASHBOARD_HEADERS)) {
    assertEquals(page.headers[k.toLowerCase()], v, k);
  }

  const players = await request(d, "/v1/players", { headers: { cookie: d.cookie } });
  assertEquals(players.status, 200, players.body);
  assertEquals(JSON.parse(players.body).players.map((p: { name: string }) => p.name), ["p1"]);

  // The browser's Authorization is not forwarded: the conductor refuses this one on its
  // socket, and through the proxy it sees the proxy's own proof instead.
  const bogus = `OrchLocal ${"a".repeat(64)}`;
  const direct = await new Promise<number>((resolve, reject) => {
    const req = http.request(
      { socketPath: c.socket, path: "/v1/players", headers: { authorization: bogus } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end();
  });
  assertEquals(direct, 401);
  const proxied = await request(d, "/v1/players", {
    headers: { cookie: d.cookie, authorization: bogus },
  });
  assertEquals(proxied.status, 200, proxied.body);

  // Live: a player that connects after the stream was opened shows in it.
  const stream = await openStream(d, "/v1/events");
  assertEquals(stream.status, 200);
  await stream.waitFor(/event: snapshot/);
  await c.startPlayer("p1");
  await stream.waitFor(/event: player\ndata: \{[^\n]*"player":"p1"[^\n]*"connected":true/);
  stream.close();

  // A submit from the page's origin is the local user's.
  const submit = await request(d, "/v1/jobs", {
    method: "POST",
    body: SUBMIT,
    headers: {
      cookie: d.cookie,
      origin: `http://${d.host}:${d.port}`,
      "sec-fetch-site": "same-origin",
    },
  });
  assertEquals(submit.status, 201, submit.body);
  const id = JSON.parse(submit.body).id as number;
  const job = await c.wait(id);
  assertEquals(job.submitted_by, `local:${userInfo().username}`);
  assertEquals(job.aggregate, "success");

  // SIGTERM ends it cleanly.
  assertEquals((await d.proc.stop()).code, 0);
});

Deno.test("orch dashboard refuses a request without the token, with a wrong one, for another Host, or a write from another origin, and forwards none of them", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  // With p1 connected a submit of hello is valid: only the proxy can refuse it.
  await c.startPlayer("p1");
  const d = await startDashboard(c);
  const write = (headers: Record<string, string>) =>
    request(d, "/v1/jobs", { method: "POST", body: SUBMIT, headers });

  assertEquals((await request(d, "/v1/players")).status, 401);
  assertEquals((await request(d, "/")).status, 401);
  assertEquals((await request(d, `/?token=${"0".repeat(64)}`)).status, 401);
  assertEquals(
    (await request(d, "/v1/players", { headers: { cookie: `${d.cookie}0` } })).status,
    401,
  );
  const noToken = await write({ origin: `http://${d.host}:${d.port}` });
  assertEquals(noToken.status, 401);
  assertMatch(noToken.body, /no token/);
  // DNS rebinding: the browser sends the attacker's name as Host.
  const rebound = await request(d, "/v1/players", {
    headers: { cookie: d.cookie, host: `attacker.example:${d.port}` },
  });
  assertEquals(rebound.status, 421);
  assertEquals(
    (await write({ cookie: d.cookie, host: `attacker.example:${d.port}` })).status,
    421,
  );
  // CSRF: a write from another origin, by Origin or by Sec-Fetch-Site.
  assertEquals((await write({ cookie: d.cookie, origin: "http://attacker.example" })).status, 403);
  assertEquals((await write({ cookie: d.cookie, "sec-fetch-site": "cross-site" })).status, 403);
  // A body larger than the API takes.
  const big = await request(d, "/v1/jobs", {
    method: "POST",
    body: JSON.stringify({ score: "hello", pad: "x".repeat(LIMITS.maxRequestBody) }),
    headers: { cookie: d.cookie, origin: `http://${d.host}:${d.port}` },
  });
  assertEquals(big.status, 413);
  // Refused by the proxy itself, before the conductor was asked (its refusals are JSON).
  assertMatch(big.body, /^request body exceeds \d+ bytes\n$/);

  // Nothing of it reached the conductor: no job, and no submit in the audit trail.
  assertEquals(await c.client.jobs(100), []);
  const audit = await c.client.audit({ limit: 1000 });
  assertEquals(audit.filter((r) => r.action === "submit"), []);

  // The same request with the token goes through (the refusals were the token's, Host's, Origin's).
  const ok = await write({ cookie: d.cookie, origin: `http://${d.host}:${d.port}` });
  assertEquals(ok.status, 201, ok.body);

  // Each refusal was logged, and none of the lines names the token: it is on the address only.
  assertMatch(d.proc.log, /orch dashboard: POST refused: no token/);
  assertMatch(d.proc.log, /orch dashboard: GET refused: Host "attacker\.example:\d+"/);
  assertEquals(d.proc.lines.filter((l) => l.includes(d.token)), [
    `http://${d.host}:${d.port}/?token=${d.token}`,
  ]);
});

Deno.test("orch dashboard closes a refused keep-alive connection and the token's redirect at once, and redirects to its own paths only", async () => {
  await using c = await Cluster.create({ players: [] });
  await c.startConductor();
  const d = await startDashboard(c);
  const head = (path: string, host = `${d.host}:${d.port}`, more = "") =>
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n${more}\r\n`;

  // Without the token; for another Host (with the cookie); a write whose body never comes.
  assertMatch(await untilClosed(d.host, d.port, head("/v1/players")), /^HTTP\/1\.1 401 /);
  assertMatch(
    await untilClosed(
      d.host,
      d.port,
      head("/v1/players", `attacker.example:${d.port}`, `Cookie: ${d.cookie}\r\n`),
    ),
    /^HTTP\/1\.1 421 /,
  );
  const pending = `POST /v1/jobs HTTP/1.1\r\nHost: ${d.host}:${d.port}\r\n` +
    `Connection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`;
  assertMatch(await untilClosed(d.host, d.port, pending), /^HTTP\/1\.1 401 /);

  // The redirect that trades the token for the cookie: to a path of this server's, always.
  const redirect = async (path: string) => {
    const got = await untilClosed(d.host, d.port, head(path));
    assertMatch(got, /^HTTP\/1\.1 303 /);
    return /^location: (.*)\r$/im.exec(got)?.[1];
  };
  assertEquals(await redirect(`/?token=${d.token}`), "/");
  assertEquals(await redirect(`/.//evil.example?token=${d.token}`), "/evil.example");
  // A request target `//NAME/PATH` is read as PATH on this server.
  assertEquals(await redirect(`//evil.example/x?token=${d.token}&a=1`), "/x?a=1");
  assertEquals(await redirect(`/x//.//evil.example?token=${d.token}`), "/x///evil.example");
  assertEquals(await redirect(`/jobs?id=3&token=${d.token}`), "/jobs?id=3");
});

Deno.test("the dashboard proxy closes a connection idle past its bound: one that sends nothing, half a request, or after an answer", async () => {
  await using c = await Cluster.create({ players: [] });
  await c.startConductor();
  const proxy = await startDashboardProxy({
    socket: c.socket,
    listen: randomLoopbackAddress(),
    requestMs: 300,
  });
  try {
    const host = new URL(proxy.url).hostname;
    const token = new URL(proxy.url).searchParams.get("token")!;
    assertEquals(await untilClosed(host, proxy.port, ""), "");
    assertEquals(await untilClosed(host, proxy.port, `GET / HTTP/1.1\r\nHost: ${host}`), "");
    // A request served and answered in full, on a connection both ends keep: closed when idle.
    const served = await untilClosed(
      host,
      proxy.port,
      `GET /v1/players HTTP/1.1\r\nHost: ${host}:${proxy.port}\r\nConnection: keep-alive\r\n` +
        `Cookie: orch_dashboard_${proxy.port}=${token}\r\n\r\n`,
    );
    assertMatch(served, /^HTTP\/1\.1 200 /);
    assertMatch(served, /\{"players":\[\]/);
    assert(!/^connection: close/im.test(served), served);
    // Refused (its request read to its end only after the answer), and a write refused
    // before its body came: closed (a refusal says so, and the bound holds either way).
    const start = `Host: ${host}:${proxy.port}\r\nConnection: keep-alive\r\n`;
    for (
      const text of [
        `GET / HTTP/1.1\r\n${start}\r\n`,
        `POST /v1/jobs HTTP/1.1\r\n${start}Content-Length: 10\r\n\r\n{`,
      ]
    ) {
      assertMatch(await untilClosed(host, proxy.port, text), /^HTTP\/1\.1 401 /);
    }
  } finally {
    await proxy.stop();
  }
});

Deno.test("orch dashboard listens on a random 127.x.y.z by default, and on the --listen address the SSH tunnel forwards", async () => {
  await using c = await Cluster.create({ players: [] });
  await c.startConductor();
  const d = await startDashboard(c);
  assert(d.host !== "127.0.0.1", d.host);
  // As the README's `ssh -L 127.0.0.9:8080:127.0.0.9:8080 … --listen 127.0.0.9:8080` (any port).
  const t = await startDashboard(c, ["--listen", "127.0.0.9:0"]);
  assertEquals(t.host, "127.0.0.9");
  for (const x of [d, t]) {
    const first = await request(x, `/?token=${x.token}`);
    assertEquals(first.status, 303);
    assertEquals(first.headers["set-cookie"], [`${x.cookie}; HttpOnly; SameSite=Strict; Path=/`]);
    const players = await request(x, "/v1/players", { headers: { cookie: x.cookie } });
    assertEquals(players.status, 200, players.body);
  }
});

Deno.test("orch dashboard closes the conductor's event stream when its browser goes away", async () => {
  await using c = await Cluster.create({ players: ["p1"] });
  await c.startConductor();
  const d = await startDashboard(c);
  // The conductor holds 16 streams of one caller at most: 16 through the proxy fill them.
  const streams: Stream[] = [];
  for (let i = 0; i < 16; i++) {
    const s = await openStream(d, "/v1/events");
    assertEquals(s.status, 200);
    await s.waitFor(/event: snapshot/);
    streams.push(s);
  }
  const over = await openStream(d, "/v1/events");
  assertEquals(over.status, 429);
  over.close();
  for (const s of streams) s.close();
  // Once their browsers are gone the conductor's streams are closed too, and a new one opens.
  const again = await until("a stream to open again", async () => {
    const s = await openStream(d, "/v1/events");
    if (s.status === 200) return s;
    s.close();
    return false;
  });
  again.close();
});

Deno.test("orch dashboard holds 64 connections at most and answers 503 past them", async () => {
  await using c = await Cluster.create({ players: [] });
  await c.startConductor();
  const d = await startDashboard(c);
  const held: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 64; i++) {
      held.push(await Deno.connect({ hostname: d.host, port: d.port }));
    }
    const over = await request(d, "/v1/players", { headers: { cookie: d.cookie } });
    assertEquals(over.status, 503);
  } finally {
    for (const conn of held) conn.close();
  }
  await until("a connection to be served again", async () => {
    return (await request(d, "/v1/players", { headers: { cookie: d.cookie } })).status === 200;
  });
});

Deno.test("orch dashboard refuses a listen address that is not loopback, and names a missing socket", async () => {
  await using c = await Cluster.create({ players: [] });
  const wide = await c.cli(["dashboard", "--listen", "0.0.0.0:0"]);
  assertEquals(wide.code, 2, wide.stderr);
  assertMatch(wide.stderr, /--listen "0\.0\.0\.0:0" is not a loopback address/);
  assertEquals(wide.stdout, "");

  const missing = `${c.dir}/no-such.sock`;
  const gone = await c.cli(["dashboard", "--socket", missing]);
  assertEquals(gone.code, 6, gone.stderr);
  assert(gone.stderr.includes(`no audience socket at ${missing}`), gone.stderr);
  assertEquals(gone.stderr.trim().split("\n").length, 2, gone.stderr); // the error and its hint
  assertEquals(gone.stdout, "");
});
