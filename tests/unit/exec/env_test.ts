import { assertEquals } from "../../_helpers/assert.ts";
import { scoreEnv } from "../../../lib/exec/env.ts";

Deno.test("a score's environment is PATH, ORCH_* names and one ORC_ variable per parameter", () => {
  assertEquals(
    scoreEnv({
      path: "/usr/bin:/bin",
      params: { GREETING: "hi there", EMPTY: "", H_JOB_ID: "x" },
      jobId: 3,
      taskId: 7,
      attempt: 2,
      player: "p1",
      score: "deploy",
    }),
    {
      PATH: "/usr/bin:/bin",
      ORCH_JOB_ID: "3",
      ORCH_TASK_ID: "7",
      ORCH_ATTEMPT: "2",
      ORCH_PLAYER: "p1",
      ORCH_SCORE: "deploy",
      ORC_GREETING: "hi there",
      ORC_EMPTY: "",
      // A parameter cannot reach orch's own ORCH_ names.
      ORC_H_JOB_ID: "x",
    },
  );
});

Deno.test("a parameter named PATH does not replace the score's PATH", () => {
  const env = scoreEnv({
    path: "/bin",
    params: { PATH: "/tmp/evil" },
    jobId: 1,
    taskId: 1,
    attempt: 1,
    player: "p",
    score: "s",
  });
  assertEquals([env.PATH, env.ORC_PATH], ["/bin", "/tmp/evil"]);
});
