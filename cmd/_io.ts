/**
 * What every command and `main.ts` share and nothing else needs: exit
 * statuses, the exit status a command sets, and writing lines to stdout and
 * stderr. No imports, so that `orch --version` loads only this.
 *
 * @module
 */

/** Exit statuses, as documented in the README. */
export const EXIT = {
  ok: 0,
  /** A bug: orch itself failed. */
  internal: 1,
  /** Bad usage, bad input, bad configuration, or a refusal. */
  usage: 2,
  /** The job failed (no task succeeded), or lint found problems. */
  failure: 3,
  /** The job partly succeeded. */
  partial: 4,
  /** Waiting ended before the job finished. */
  pending: 5,
  /** The conductor could not be reached. */
  unavailable: 6,
  /** Nothing to do: the job had already finished (a cancel of a finished job). */
  finished: 7,
} as const;

/** What each exit status means, for the man page. */
export const EXIT_MEANINGS: readonly [number, string][] = [
  [EXIT.ok, "success"],
  [EXIT.internal, "orch itself failed (a bug)"],
  [EXIT.usage, "bad usage, bad input, bad configuration, or a refusal"],
  [EXIT.failure, "the job failed (no task succeeded), or lint found problems"],
  [EXIT.partial, "the job partly succeeded"],
  [EXIT.pending, "waiting ended before the job finished"],
  [EXIT.unavailable, "the conductor could not be reached"],
  [EXIT.finished, "nothing to do: the job had already finished (a cancel of a finished job)"],
];

/** The exit status `main.ts` uses; commands set it. */
export const exitState = { code: EXIT.ok as number };

const encoder = new TextEncoder();

/** Writes a line to stdout. */
export function out(line = ""): void {
  writeAll(Deno.stdout, encoder.encode(`${line}\n`));
}

/** Writes a line to stderr. */
export function err(line: string): void {
  writeAll(Deno.stderr, encoder.encode(`${line}\n`));
}

function writeAll(w: { writeSync(p: Uint8Array): number }, bytes: Uint8Array): void {
  let off = 0;
  try {
    while (off < bytes.length) off += w.writeSync(bytes.subarray(off));
  } catch (e) {
    // The reader went away (`orch jobs | head`): nobody is left to tell.
    if (!(e instanceof Deno.errors.BrokenPipe)) throw e;
  }
}
