import { assertEquals } from "../../_helpers/assert.ts";
import { ROOT } from "../../_helpers/proc.ts";

const isLinux = Deno.build.os === "linux";

/**
 * Runs, in a fresh process started by bash with every descriptor above 2
 * closed and then `prefix` run, code that prints a JSON value; returns it.
 */
async function inChild(prefix: string): Promise<unknown> {
  const code = `
    import { closeInheritedFds, inheritableFds } from "${ROOT}lib/exec/fds.ts";
    const before = inheritableFds();
    const sweep = closeInheritedFds();
    console.log(JSON.stringify({ before, how: sweep.how, leaked: sweep.leaked, after: inheritableFds() }));
  `;
  // What this test process itself passes on (the test runner's own descriptors) is closed first.
  const closeAll =
    'for f in /proc/$$/fd/*; do n=${f##*/}; [ "$n" -gt 2 ] && eval "exec $n<&-"; done;';
  const out = await new Deno.Command("/bin/bash", {
    args: ["-c", `${closeAll} ${prefix} exec "$0" eval "$1"`, Deno.execPath(), code],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test({
  name: "with nothing inherited, no descriptor is touched and the C library is not loaded",
  ignore: !isLinux,
  async fn() {
    assertEquals(await inChild(""), { before: [], how: "nothing", leaked: [], after: [] });
  },
});

Deno.test({
  name: "an inherited descriptor is found and made close-on-exec",
  ignore: !isLinux,
  async fn() {
    const r = await inChild("exec 7</dev/null;") as Record<string, unknown>;
    assertEquals(r.before, [7]);
    assertEquals(r.leaked, []);
    assertEquals(r.after, []);
  },
});
