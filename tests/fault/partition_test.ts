import { assertEquals, assertMatch } from "../_helpers/assert.ts";
import { Cluster } from "../_helpers/cluster.ts";
import { tempDir } from "../_helpers/proc.ts";
import { appendedRuns, FAULT_SCORES, report } from "./_fault.ts";

async function ip(...args: string[]): Promise<{ ok: boolean; err: string }> {
  try {
    const r = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
    return { ok: r.success, err: new TextDecoder().decode(r.stderr).trim() };
  } catch (err) {
    return { ok: false, err: (err as Error).message };
  }
}

/** A network namespace joined to this one by a veth pair; null and why, when one cannot be made. */
async function makeLink(): Promise<
  { ns: string; hostIf: string; hostIp: string; del: () => Promise<void> } | string
> {
  const id = crypto.getRandomValues(new Uint8Array(3));
  const tag = Array.from(id.slice(0, 2), (b) => b.toString(16).padStart(2, "0")).join("");
  const ns = `orch-${tag}`;
  const hostIf = `ov${tag}`;
  const subnet = `10.231.${id[2]}`;
  const made = await ip("netns", "add", ns);
  if (!made.ok) return `cannot make a network namespace (${made.err || "ip failed"})`;
  const del = async () => {
    await ip("link", "del", hostIf);
    await ip("netns", "del", ns);
  };
  for (
    const step of [
      ["link", "add", hostIf, "type", "veth", "peer", "name", `${hostIf}p`],
      ["link", "set", `${hostIf}p`, "netns", ns],
      ["addr", "add", `${subnet}.1/30`, "dev", hostIf],
      ["link", "set", hostIf, "up"],
      ["netns", "exec", ns, "ip", "addr", "add", `${subnet}.2/30`, "dev", `${hostIf}p`],
      ["netns", "exec", ns, "ip", "link", "set", `${hostIf}p`, "up"],
      ["netns", "exec", ns, "ip", "link", "set", "lo", "up"],
    ]
  ) {
    const r = await ip(...step);
    if (!r.ok) {
      await del();
      return `cannot join a network namespace with a veth pair: ip ${step.join(" ")}: ${r.err}`;
    }
  }
  return { ns, hostIf, hostIp: `${subnet}.1`, del };
}

const probe = await makeLink();
if (typeof probe !== "string") await probe.del();
const cannot = typeof probe === "string" ? probe : null;
if (cannot) console.log(`fault 4 (partition) is skipped: ${cannot}; it needs root and iproute2`);

Deno.test({
  name: `fault 4: a partition longer than the heartbeat in mid-job: the result is delivered once${
    cannot ? ` (skipped: ${cannot})` : ""
  }`,
  ignore: cannot !== null,
  fn: async () => {
    const link = await makeLink();
    if (typeof link === "string") throw new Error(link);
    try {
      await using c = await Cluster.create({
        players: ["p1"],
        scoresDir: FAULT_SCORES,
        heartbeat: "2s",
      });
      const conductor = await c.startConductor(["--listen", "0.0.0.0:0"]);
      const p1 = await c.startPlayer("p1", {
        wrap: ["ip", "netns", "exec", link.ns],
        extra: ["--conductor", `${link.hostIp}:${c.playersPort}`],
      });
      await using outDir = await tempDir();
      const out = outDir.path;
      const id = await c.submitRunning({
        score: "append",
        scope: "all",
        targets: ["p1"],
        params: { OUT: out, SLEEP: "4" },
      });
      const fromC = conductor.proc.lines.length;
      const fromP = p1.lines.length;

      const down = Date.now();
      assertEquals((await ip("link", "set", link.hostIf, "down")).ok, true);
      await conductor.proc.waitFor(
        /player disconnected player=p1 reason="no message for/,
        10_000,
        fromC,
      );
      const conductorNoticed = Date.now() - down;
      await p1.waitFor(/disconnected from the conductor .*reason="no message for/, 10_000, fromP);
      const playerNoticed = Date.now() - down;
      // The score ends while the link is down; its result waits in the journal.
      await p1.waitFor(/task finished .*outcome=succeeded/, 10_000, fromP);
      await new Promise((r) => setTimeout(r, Math.max(0, 7000 - (Date.now() - down))));
      assertEquals((await c.job(id)).tasks[0].state, "running");

      const up = Date.now();
      const downMs = up - down;
      assertEquals((await ip("link", "set", link.hostIf, "up")).ok, true);
      const job = await c.wait(id, 30_000);
      const deliveredMs = Date.now() - up;
      assertEquals(job.aggregate, "success");
      assertEquals(job.tasks[0].attempts.length, 1);
      assertEquals((await appendedRuns(out)).get("p1")?.length, 1);
      const recorded = conductor.proc.lines.filter((l) =>
        /task finished .*task=1 attempt=1/.test(l)
      ).length;
      assertEquals(recorded, 1);
      assertMatch(p1.log, /connected to the conductor .*resent=1/);
      report("fault 4 (partition)", {
        heartbeat_ms: 2000,
        link_down_ms: downMs,
        conductor_noticed_ms: conductorNoticed,
        player_noticed_ms: playerNoticed,
        result_delivered_after_link_up_ms: deliveredMs,
        results_recorded: recorded,
        runs: 1,
        duplicated: 0,
        lost: 0,
      });
    } finally {
      await link.del();
    }
  },
});
