/**
 * `--follow` and `--wait` against a conductor that does not serve event
 * streams (an older version): the real `orch` CLI against the audience API
 * served without its event routes, over a backend of fixed jobs.
 */

import { assertEquals, assertMatch } from "../_helpers/assert.ts";
import { FakeBackend, jobOf, task } from "../_helpers/fake_backend.ts";
import { orch } from "../_helpers/proc.ts";
import { serveOnSocket } from "../_helpers/socket_api.ts";
import { createApiHandler } from "../../lib/conductor/api.ts";
import { silentLogger } from "../../lib/log.ts";
import type { JobView } from "../../lib/protocol/mod.ts";

/** Job 1 shows running until waited for: then it has finished, one task failed. */
class RunningThenDone extends FakeBackend {
  constructor() {
    super();
    this.add([
      task({ id: 1, job_id: 1, stdout_tail: "one\n" }),
      task({ id: 2, job_id: 1, state: "failed", exit_code: 1 }),
    ], { aggregate: "partial" });
  }

  override job(id: number): Promise<JobView | undefined> {
    const view = this.jobsById.get(id)?.view;
    super.job(id);
    return Promise.resolve(
      view &&
        jobOf([task({ id: 1, job_id: 1, state: "running", ended_at: null })], {
          aggregate: "running",
          finished_at: null,
        }),
    );
  }
}

async function olderConductor() {
  const backend = new RunningThenDone();
  return Object.assign(await serveOnSocket(createApiHandler(backend, silentLogger)), { backend });
}

Deno.test("--follow and --wait fall back to a long-poll wait when the conductor serves no events", async () => {
  await using c = await olderConductor();
  const env = { ORCH_SOCKET: c.socket };
  let r = await orch(["status", "1", "--follow"], { env });
  assertEquals(r.code, 4, r.stdout + r.stderr);
  assertMatch(
    r.stderr,
    /^orch: the conductor does not serve events; waiting without live output$/m,
  );
  assertMatch(r.stdout, /^job 1: hello on all of p1, p2\naggregate: partial/);
  assertEquals(c.backend.names.includes("waitJob"), true);

  r = await orch(["status", "1", "--wait"], { env });
  assertEquals(r.code, 4, r.stdout + r.stderr);
  assertMatch(r.stdout, /^job 1: hello on all of p1, p2\naggregate: partial/);

  // A job that does not exist is said so, not waited for.
  r = await orch(["status", "9", "--follow"], { env });
  assertEquals(r.code, 2, r.stderr);
  assertMatch(r.stderr, /no job 9/);
});
