/**
 * A conductor in the test's own process: no listener, players attached over
 * the link seam ({@linkcode TestPlayer}), a store and a clock the test
 * chooses. For tests of the conductor's logic that run in milliseconds.
 *
 * @module
 */

import { join } from "node:path";
import { type Conductor, startConductor } from "../../lib/conductor/mod.ts";
import { silentLogger } from "../../lib/log.ts";
import type { ConductorStore } from "../../lib/store/mod.ts";
import type { TlsMaterial } from "../../lib/tls/mod.ts";
import { ManualClock } from "./clock.ts";
import { EmptyStore } from "./store.ts";

/** A started in-process conductor, stopped and cleaned up on dispose. */
export interface InProcess extends AsyncDisposable {
  conductor: Conductor;
  clock: ManualClock;
  dir: string;
}

/** Options for {@linkcode inProcessConductor}. */
export interface InProcessOptions {
  players: string[];
  store?: ConductorStore;
  retryBackoffMs?: number;
  lostAfterMs?: number;
  /** The clock to drive (one a conductor before this one used, to go on from its time). */
  clock?: ManualClock;
}

/** Material that is never used: an in-process conductor listens nowhere. */
const NO_TLS: TlsMaterial = {
  ca: "",
  cert: "",
  key: "",
  name: "conductor",
  names: ["conductor"],
  notAfter: new Date(8.64e15),
};

/** Starts a conductor in-process on a manual clock. */
export async function inProcessConductor(opts: InProcessOptions): Promise<InProcess> {
  const dir = await Deno.makeTempDir({ prefix: "orch-test-" });
  await Deno.writeTextFile(join(dir, "players"), opts.players.join("\n") + "\n");
  const clock = opts.clock ?? new ManualClock();
  const conductor = await startConductor({
    store: opts.store ?? new EmptyStore(),
    tls: NO_TLS,
    listen: null,
    audienceListen: null,
    audienceSocket: null,
    audienceSocketMode: 0o600,
    playersFile: join(dir, "players"),
    grantsFile: join(dir, "grants.yaml"),
    heartbeatMs: 60_000,
    maxFrame: 1 << 20,
    retryBackoffMs: opts.retryBackoffMs ?? 1000,
    lostAfterMs: opts.lostAfterMs ?? 0,
    clock,
    log: silentLogger,
  });
  return {
    conductor,
    clock,
    dir,
    async [Symbol.asyncDispose]() {
      await conductor.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Waits until everything the conductor recorded so far is committed and acted on. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
}
