/**
 * The audit trail: every accepted and every refused submit, read of
 * parameters and cancel, and every refused or impostor connection, as one
 * structured log line and one record appended to the store.
 *
 * @module
 */

import type { Logger } from "../log.ts";
import { type AuditRecord, clip } from "../protocol/mod.ts";
import type { Clock } from "./clock.ts";

/** Characters of a reason or subject kept in a record (either may quote what a caller sent). */
const MAX_REASON = 1000;

/** An audit record as it is handed in; the store gives it its id, the clock its time. */
export type AuditEntry = Omit<AuditRecord, "id" | "at" | "job_id" | "reason"> & {
  job_id?: number | null;
  reason?: string | null;
};

/** Where records go once made: the store's next write. */
export interface AuditSink {
  /** Adds the record to the next write; throws when nothing more can be written. */
  append(record: Omit<AuditRecord, "id">): void;
  /** Resolves once everything appended so far is committed. */
  durable(): Promise<void>;
}

/** Records audit entries: a log line at once, a stored record with the next commit. */
export class Auditor {
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #sink: AuditSink | null;

  constructor(clock: Clock, log: Logger, sink: AuditSink | null = null) {
    this.#clock = clock;
    this.#log = log;
    this.#sink = sink;
  }

  /** Records `entry`; refusals are logged as warnings, impostors as errors by the caller. */
  record(
    entry: AuditEntry,
    level: "info" | "warn" | "error" = entry.outcome === "allowed" ? "info" : "warn",
  ): void {
    const record: Omit<AuditRecord, "id"> = {
      at: this.#clock.now(),
      who: entry.who,
      auth: entry.auth,
      transport: entry.transport,
      from: entry.from,
      action: entry.action,
      subject: clip(entry.subject, MAX_REASON),
      job_id: entry.job_id ?? null,
      outcome: entry.outcome,
      reason: entry.reason == null ? null : clip(entry.reason, MAX_REASON),
    };
    this.#log[level]("audit", {
      action: record.action,
      outcome: record.outcome,
      who: record.who,
      auth: record.auth,
      transport: record.transport,
      from: record.from,
      subject: record.subject,
      job: record.job_id ?? undefined,
      reason: record.reason ?? undefined,
    });
    if (!this.#sink) return;
    try {
      this.#sink.append(record);
    } catch (err) {
      // The conductor is stopping or its database failed: the log line above is all there is.
      this.#log.warn("audit record not stored", { error: (err as Error).message });
    }
  }

  /** Resolves once every record so far is stored; rejects when the store failed. */
  durable(): Promise<void> {
    return this.#sink?.durable() ?? Promise.resolve();
  }
}
