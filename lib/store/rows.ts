/**
 * Building the store's records: the ones every store, its tests and its
 * measurements start from.
 *
 * @module
 */

import type { StoreSnapshot, TaskRow } from "./types.ts";

/** The row of a task just made: queued at `seq`, never tried, as of `at`. */
export function queuedTaskRow(
  t: { id: number; jobId: number; seq: number; host: string | null; at: number },
): TaskRow {
  return {
    id: t.id,
    jobId: t.jobId,
    seq: t.seq,
    host: t.host,
    state: "queued",
    attempt: 0,
    tried: [],
    notBefore: null,
    failures: 0,
    cancelRequested: false,
    reason: null,
    updatedAt: t.at,
    assignedAt: null,
    startedAt: null,
    endedAt: null,
    result: null,
  };
}

/** What a store holding nothing loads. */
export function emptySnapshot(): StoreSnapshot {
  return {
    conductorId: null,
    maxJobId: 0,
    maxTaskId: 0,
    seqLow: 0,
    seqHigh: 0,
    jobs: [],
    tasks: [],
    finished: [],
    finishedHosts: [],
    unfinishedDoneJobs: [],
    drained: [],
    players: [],
  };
}
