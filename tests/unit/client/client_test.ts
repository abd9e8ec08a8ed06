import { assert, assertEquals, assertRejects } from "../../_helpers/assert.ts";
import { FakeBackend, task } from "../../_helpers/fake_backend.ts";
import { serveOnSocket } from "../../_helpers/socket_api.ts";
import { AudienceClient } from "../../../lib/client/mod.ts";
import { type ApiHandler, createApiHandler } from "../../../lib/conductor/api.ts";
import { OrchError } from "../../../lib/errors.ts";
import { silentLogger } from "../../../lib/log.ts";
import type { TaskState } from "../../../lib/protocol/mod.ts";

/** Serves `handler` on a Unix socket in a temp dir, with a client for it. */
async function serve(handler: ApiHandler) {
  const served = await serveOnSocket(handler);
  return {
    client: new AudienceClient({ kind: "socket", path: served.socket }),
    [Symbol.asyncDispose]: () => served[Symbol.asyncDispose](),
  };
}

/** A backend holding job 1 with `n` tasks, every seventh failed. */
function backendWith(n: number): FakeBackend {
  const b = new FakeBackend();
  b.add(
    Array.from({ length: n }, (_, i) =>
      task({
        id: i + 1,
        state: (i % 7 === 6 ? "failed" : "succeeded") as TaskState,
        stdout_tail: `out ${i + 1}\n`,
      })),
  );
  return b;
}

Deno.test("the client reads a job's summary, a page of tasks with the query, and one task", async () => {
  const backend = backendWith(3);
  await using s = await serve(createApiHandler(backend, silentLogger));
  const job = await s.client.job(1);
  assertEquals([job.id, job.task_count, job.counts], [1, 3, { succeeded: 3 }]);
  const page = await s.client.tasks(1, {
    page: 2,
    limit: 2,
    state: "succeeded",
    host: "p3",
    output: true,
  });
  assertEquals(backend.calls.at(-1), [
    "tasks",
    1,
    { page: 2, limit: 2, output: true, state: "succeeded", host: "p3" },
  ]);
  assertEquals([page.total, page.page, page.limit, page.tasks], [1, 2, 2, []]);
  const t = await s.client.task(1, 2);
  assertEquals([t.id, t.stdout_tail], [2, "out 2\n"]);
  const err = await assertRejects(() => s.client.task(1, 9));
  assert(err instanceof OrchError);
  assertEquals([err.code, err.message], ["not_found", "no task 9 in job 1"]);
});

Deno.test("allTasks pages through every task, 100 a page with output and 200 without", async () => {
  const backend = backendWith(250);
  await using s = await serve(createApiHandler(backend, silentLogger));
  const withOutput = await s.client.allTasks(1, { output: true });
  assertEquals(withOutput.map((t) => t.id), Array.from({ length: 250 }, (_, i) => i + 1));
  assertEquals(withOutput[249].stdout_tail, "out 250\n");
  assertEquals(
    backend.calls.map((c) => c[2]),
    [1, 2, 3].map((page) => ({ page, limit: 100, output: true })),
  );
  backend.calls.length = 0;
  const views = await s.client.allTasks(1);
  assertEquals(views.length, 250);
  assert(!("stdout_tail" in views[0]));
  assertEquals(backend.calls.map((c) => c[2]), [{ page: 1, limit: 200 }, { page: 2, limit: 200 }]);
});

Deno.test("allTasks stops at the total when the last page is full", async () => {
  const backend = backendWith(200);
  await using s = await serve(createApiHandler(backend, silentLogger));
  assertEquals((await s.client.allTasks(1, { output: true })).length, 200);
  assertEquals(backend.calls.length, 2);
});

Deno.test("an answer over 64 MiB is refused, not read whole", async () => {
  const chunk = new Uint8Array(1 << 20).fill(0x20);
  let sent = 0;
  await using s = await serve(() =>
    Promise.resolve(
      new Response(
        new ReadableStream({
          pull(c) {
            // Bounded: the server stops after 80 MiB even if the client read on.
            if (sent++ < 80) c.enqueue(chunk);
            else c.close();
          },
        }),
        { headers: { "content-type": "application/json" } },
      ),
    )
  );
  const err = await assertRejects(() => s.client.job(1));
  assert(err instanceof OrchError);
  assertEquals([err.code, err.message], [
    "protocol",
    "the conductor's answer exceeds 67108864 bytes",
  ]);
});
