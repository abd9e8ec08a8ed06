/**
 * What every phase of a bench run works with: the deployment, the running
 * conductor, the simulated players, the audience client, progress
 * reporting, and the guard that ends any wait when the conductor dies or
 * the run is interrupted.
 *
 * @module
 */

import type { AudienceClient } from "../client/mod.ts";
import type { SubmitInput } from "../protocol/mod.ts";
import type { ConductorProcess, Deployment } from "./deployment.ts";
import { type Fleet, type FleetTarget, STALL_MS } from "./fleet.ts";
import { OrchError } from "../errors.ts";
import type { BenchOptions, BenchProgress, PhaseName } from "./result.ts";

/** Least time between two progress counts. */
const COUNT_EVERY_MS = 500;

/** Throttled progress reports. */
export class Progress {
  readonly #emit: (p: BenchProgress) => void;
  #phase: PhaseName = "setup";
  #last = 0;

  constructor(emit: (p: BenchProgress) => void) {
    this.#emit = emit;
  }

  /** The phase running now. */
  get current(): PhaseName {
    return this.#phase;
  }

  /** A phase begins. */
  phase(phase: PhaseName, text: string): void {
    this.#phase = phase;
    this.#last = 0;
    this.#emit({ kind: "phase", phase, text });
  }

  /** Progress within the phase; dropped when the last one is recent, unless `done === total`. */
  count(done: number, total: number, what: string): void {
    const now = performance.now();
    if (done < total && now - this.#last < COUNT_EVERY_MS) return;
    this.#last = now;
    this.#emit({ kind: "count", phase: this.#phase, done, total, what });
  }

  /** The phase is over. */
  done(): void {
    this.#emit({ kind: "done", phase: this.#phase });
  }
}

/** The state of a bench run that the phases share. */
export interface BenchContext {
  readonly opts: BenchOptions;
  readonly deployment: Deployment;
  readonly fleet: Fleet;
  readonly client: AudienceClient;
  /** The conductor running now (a new one after the restart). */
  readonly conductor: ConductorProcess;
  /** Starts the conductor on `port` (0: any); it is the one running from then on. */
  startConductor(port: number): Promise<ConductorProcess>;
  readonly progress: Progress;
  /** Jobs and tasks submitted so far. */
  readonly submitted: { jobs: number; tasks: number };
  /** Where the simulated players connect. */
  target(): FleetTarget;
  /**
   * `p`, unless the conductor dies or the run is interrupted first: then
   * rejects with why.
   */
  guard<T>(p: Promise<T>): Promise<T>;
}

/**
 * An answer from the conductor's API, guarded like any wait, and failing
 * when none comes within {@linkcode STALL_MS} (a conductor that hangs).
 */
export function answer<T>(ctx: BenchContext, call: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) =>
    timer = setTimeout(
      () =>
        reject(
          new OrchError("timeout", `the conductor did not answer ${what} in ${STALL_MS / 1000}s`),
        ),
      STALL_MS,
    )
  );
  call.catch(() => {}); // settled after a failure: nobody waits for it any more
  return ctx.guard(Promise.race([call, late]).finally(() => clearTimeout(timer)));
}

/** Submits a job of the bench score on `targets` and counts it; resolves with its id. */
export async function submitBench(
  ctx: BenchContext,
  scope: "all" | "one",
  targets: string[],
): Promise<number> {
  const req: SubmitInput = { score: "bench", scope, targets, params: {} };
  const id = await answer(ctx, ctx.client.submit(req), "a submit");
  ctx.submitted.jobs++;
  ctx.submitted.tasks += scope === "all" ? targets.length : 1;
  return id;
}
