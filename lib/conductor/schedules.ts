/**
 * Schedules: job templates the conductor submits when they are due, as
 * their owner, through the same path as the audience's submits.
 *
 * Each schedule has one timer (on the conductor's {@linkcode Timers}, so the
 * clock seam drives it) for its next due time. A due time that fires submits
 * the job and records it as the schedule's `last_due` in the same turn, so
 * the committer writes both in one store write: after a crash, either the
 * job exists and the due time is marked, or neither. `last_due` means "every
 * due time up to here is handled": the next due time is the first after it.
 *
 * Due times that passed while the conductor could not fire them (it was
 * down, or held up past several of them) are collapsed into one: the
 * schedule's policy fires one job for them (`catch-up-once`) or none
 * (`skip`). Each run is checked against the owner's `submit` grant when it
 * fires; a refused run is audited and its due time used up.
 *
 * @module
 */

import { Cron } from "croner";
import { errorMessage, OrchError } from "../errors.ts";
import type { Logger } from "../log.ts";
import {
  type Caller,
  callerLabel,
  MAX_SCHEDULES,
  type ScheduleRequest,
  type ScheduleSpec,
  type ScheduleView,
  type SubmitRequest,
} from "../protocol/mod.ts";
import type { ScheduleRecord } from "../store/mod.ts";
import type { AccessControl, Principal } from "./access.ts";
import type { Auditor } from "./audit.ts";
import type { Clock } from "./clock.ts";
import type { Committer } from "./committer.ts";
import type { Timers } from "./timers.ts";

/** What the schedules need around them. */
export interface SchedulesDeps {
  clock: Clock;
  timers: Timers;
  committer: Committer;
  audit: Auditor;
  log: Logger;
  /** The grants in force. */
  access: () => AccessControl;
  /**
   * Submits a job as the audience API does; `accepted` is called with its
   * id in the same turn as the job is recorded.
   */
  submit: (
    req: SubmitRequest,
    caller: Caller,
    accepted: (id: number) => void,
    schedule: string,
  ) => Promise<number>;
  /** Checks that a job would be admitted now; returns its secret keys. */
  admit: (req: SubmitRequest) => { secret: string[] };
  /** A submit with its target expressions resolved to hosts (refused when one matches none). */
  resolve: (req: SubmitRequest) => SubmitRequest;
}

interface Entry {
  rec: ScheduleRecord;
  due: Due;
  /** Bumped when the entry is removed: a timer armed before no longer fires it. */
  gen: number;
  next: number | null;
}

/** A schedule's due times. */
type Due = (after: number) => number | null;

/** Cron fields, for messages. */
const CRON_HINT =
  "five fields (minute hour day-of-month month day-of-week), or six with seconds first, e.g. '0 3 * * *'";

/**
 * The due times of `spec`: a function from an instant to the first due time
 * strictly after it (null for never). Throws `invalid` naming what is wrong.
 */
export function dueTimes(spec: ScheduleSpec, createdAt: number): Due {
  if ("every_ms" in spec) {
    const every = spec.every_ms;
    return (after) => {
      const from = Math.max(after, createdAt);
      return createdAt + (Math.floor((from - createdAt) / every) + 1) * every;
    };
  }
  let cron: Cron;
  try {
    cron = new Cron(spec.cron, { paused: true, timezone: spec.timezone ?? "UTC" });
  } catch (err) {
    throw new OrchError(
      "invalid",
      `cron: ${JSON.stringify(spec.cron)} is not a cron expression: ${
        errorMessage(err).replace(/^CronPattern: /, "")
      }`,
      { hint: CRON_HINT },
    );
  }
  try {
    cron.nextRun(new Date(createdAt));
  } catch (err) {
    throw new OrchError(
      "invalid",
      `timezone: ${JSON.stringify(spec.timezone)} is not usable: ${errorMessage(err)}`,
    );
  }
  return (after) => cron.nextRun(new Date(after))?.getTime() ?? null;
}

/**
 * The job of a schedule, as a submit. Its targets are the expressions the
 * schedule was given (names, globs, selectors): they are resolved each time
 * it runs, against the players file as it is then.
 */
export function submitOf(job: ScheduleRecord["job"]): SubmitRequest {
  return {
    score: job.score,
    scope: job.scope,
    targets: [...job.targets],
    params: { ...job.params },
    timeout_ms: job.timeout_ms,
    deadline: null,
    retries: job.retries,
    request_id: null,
    secret: [],
    quorum: job.quorum ?? null,
    batch: job.batch ?? null,
    max_errors: job.max_errors ?? null,
    batch_wait_ms: job.batch_wait_ms ?? 0,
    ...(job.some == null ? {} : { some: job.some, offline_wait_ms: job.offline_wait_ms }),
  };
}

/** The conductor's schedules, in memory and in the store. */
export class Schedules {
  readonly #d: SchedulesDeps;
  readonly #entries = new Map<string, Entry>();
  #gen = 0;

  constructor(deps: SchedulesDeps) {
    this.#d = deps;
  }

  /**
   * Takes the stored schedules at start; a due time that passed while the
   * conductor was down fires once now, or is skipped, by its policy.
   */
  load(records: readonly ScheduleRecord[]): void {
    const now = this.#d.clock.now();
    for (const rec of records) {
      let due: Due;
      try {
        due = dueTimes(rec.spec, rec.createdAt);
      } catch (err) {
        this.#d.log.error("a stored schedule cannot be read; it does not fire", {
          schedule: rec.name,
          error: errorMessage(err),
        });
        continue;
      }
      const e: Entry = { rec, due, gen: ++this.#gen, next: null };
      this.#entries.set(rec.name, e);
      const first = due(rec.lastDue ?? rec.createdAt);
      if (first !== null && first <= now && rec.enabled) {
        if (rec.policy === "skip") {
          this.#d.log.info("schedule missed due times while the conductor was down; skipped", {
            schedule: rec.name,
            first_missed: new Date(first).toISOString(),
          });
          rec.lastDue = now;
          this.#d.committer.markScheduleDue(rec.name, now);
        } else {
          this.#d.log.info("schedule missed due times while the conductor was down; firing once", {
            schedule: rec.name,
            first_missed: new Date(first).toISOString(),
          });
          this.#fire(e, first);
          continue;
        }
      }
      this.#arm(e);
    }
  }

  /** Arms the entry's timer for its next due time. */
  #arm(e: Entry): void {
    e.next = e.rec.enabled ? e.due(e.rec.lastDue ?? e.rec.createdAt) : null;
    if (e.next === null) return;
    const gen = e.gen;
    const at = e.next;
    this.#d.timers.at(at, () => {
      if (this.#entries.get(e.rec.name) !== e || e.gen !== gen) return;
      this.#fire(e, at);
    });
  }

  /**
   * Fires the due time `due` of `e`: submits its job as its owner and marks
   * the due time in the same turn. When later due times have passed too,
   * they are handled by this one fire.
   */
  #fire(e: Entry, due: number): void {
    const d = this.#d;
    const rec = e.rec;
    const now = d.clock.now();
    const after = e.due(due);
    const mark = after !== null && after <= now ? now : due;
    const subject = this.#subject(rec, `due ${new Date(due).toISOString()}`);
    const refused = (reason: string) => {
      d.audit.record({
        ...this.#origin(rec),
        action: "submit",
        subject,
        outcome: "refused",
        reason,
      });
    };
    let req: SubmitRequest;
    let why: string | null;
    try {
      // The hosts its targets choose now; the grants are checked against those.
      req = d.resolve(submitOf(rec.job));
      why = d.access().check(this.#principal(rec), ["submit"], {
        score: req.score,
        targets: req.targets,
      });
    } catch (err) {
      req = submitOf(rec.job);
      why = errorMessage(err);
    }
    if (why !== null) {
      refused(why);
      rec.lastDue = mark;
      d.committer.markScheduleDue(rec.name, mark);
      this.#arm(e);
      return;
    }
    let fired = false;
    d.submit(req, rec.owner, (id) => {
      fired = true;
      rec.lastDue = mark;
      d.committer.markScheduleDue(rec.name, mark);
      d.audit.record({
        ...this.#origin(rec),
        action: "submit",
        subject,
        job_id: id,
        outcome: "allowed",
      });
      d.log.info("schedule fired", { schedule: rec.name, job: id });
    }, rec.name).catch((err) => {
      if (fired) return; // Submitted; only its commit failed, which stops the conductor.
      if (err instanceof OrchError && err.code === "unavailable") return; // Stopping.
      refused(errorMessage(err));
      d.log.warn("schedule's job was refused", { schedule: rec.name, error: errorMessage(err) });
      rec.lastDue = mark;
      try {
        d.committer.markScheduleDue(rec.name, mark);
      } catch {
        return; // Stopping: the due time fires again at the next start.
      }
      if (this.#entries.get(rec.name) === e) this.#arm(e);
    });
    if (fired) this.#arm(e);
  }

  #principal(rec: ScheduleRecord): Principal {
    return { label: callerLabel(rec.owner), groups: rec.ownerGroups };
  }

  #origin(rec: ScheduleRecord): { who: string; auth: string; transport: string; from: string } {
    return {
      who: callerLabel(rec.owner),
      auth: "schedule",
      transport: "schedule",
      from: `schedule ${rec.name}`,
    };
  }

  #subject(rec: ScheduleRecord, what: string): string {
    const t = rec.job.targets;
    const targets = t.length > 5 ? `${t.slice(0, 5).join(", ")} and ${t.length - 5} more` : t
      .join(", ");
    return `schedule ${rec.name} (${what}): score ${rec.job.score} on ${targets} (${
      rec.job.scope === "all" ? "all-of" : "one-of"
    })`;
  }

  /**
   * Adds a schedule owned by `owner`; resolves once it is stored. Refuses a
   * bad cron expression, a name in use, a job that would not be admitted
   * now, and a job with secret params.
   */
  async add(req: ScheduleRequest, owner: Caller, groups: readonly string[]): Promise<ScheduleView> {
    const d = this.#d;
    const now = d.clock.now();
    const due = dueTimes(req.spec, now);
    if (due(now) === null) {
      throw new OrchError(
        "invalid",
        `cron: ${JSON.stringify("cron" in req.spec ? req.spec.cron : "")} is never due`,
      );
    }
    if (this.#entries.has(req.name)) {
      throw new OrchError("conflict", `a schedule named ${req.name} exists already`, {
        hint: "remove it first, or choose another name",
      });
    }
    if (this.#entries.size >= MAX_SCHEDULES) {
      throw new OrchError("too_large", `this conductor keeps at most ${MAX_SCHEDULES} schedules`);
    }
    const rec: ScheduleRecord = {
      name: req.name,
      spec: req.spec,
      policy: req.policy,
      job: req.job,
      owner,
      ownerGroups: [...groups],
      createdAt: now,
      lastDue: null,
      enabled: true,
    };
    const { secret } = d.admit(d.resolve(submitOf(rec.job)));
    if (secret.length > 0) {
      throw new OrchError(
        "invalid",
        `score ${req.job.score} declares secret params (${secret.join(", ")}): ` +
          "a schedule cannot hold secret values (they would be stored with it)",
      );
    }
    const e: Entry = { rec, due, gen: ++this.#gen, next: null };
    d.committer.addSchedule(rec);
    this.#entries.set(rec.name, e);
    this.#arm(e);
    await this.#durable();
    return this.#view(e);
  }

  /** Removes a schedule; resolves once that is stored. */
  async remove(name: string): Promise<void> {
    const e = this.#entries.get(name);
    if (!e) throw new OrchError("not_found", `no schedule ${name}`);
    this.#d.committer.removeSchedule(name);
    e.gen = ++this.#gen;
    this.#entries.delete(name);
    await this.#durable();
  }

  /**
   * Submits a schedule's job now, as its owner, without touching its due
   * times; resolves with the job's id once it is stored.
   */
  async runNow(name: string): Promise<number> {
    const e = this.#entries.get(name);
    if (!e) throw new OrchError("not_found", `no schedule ${name}`);
    const rec = e.rec;
    const req = this.#d.resolve(submitOf(rec.job));
    const why = this.#d.access().check(this.#principal(rec), ["submit"], {
      score: req.score,
      targets: req.targets,
    });
    if (why !== null) {
      throw new OrchError("forbidden", `schedule ${name}'s owner may no longer submit: ${why}`);
    }
    return await this.#d.submit(req, rec.owner, (id) => {
      this.#d.audit.record({
        ...this.#origin(rec),
        action: "submit",
        subject: this.#subject(rec, "run now"),
        job_id: id,
        outcome: "allowed",
      });
    }, rec.name);
  }

  /** What is known of a schedule, for the guard: its owner and job. */
  get(name: string): ScheduleRecord | undefined {
    return this.#entries.get(name)?.rec;
  }

  /** Every schedule, by name. */
  list(): ScheduleView[] {
    return [...this.#entries.values()]
      .sort((a, b) => (a.rec.name < b.rec.name ? -1 : 1))
      .map((e) => this.#view(e));
  }

  #view(e: Entry): ScheduleView {
    const r = e.rec;
    return {
      name: r.name,
      spec: r.spec,
      policy: r.policy,
      job: r.job,
      owner: r.owner,
      owner_label: callerLabel(r.owner),
      created_at: r.createdAt,
      last_due: r.lastDue,
      next_due: e.next,
      enabled: r.enabled,
    };
  }

  async #durable(): Promise<void> {
    try {
      await this.#d.committer.durable();
    } catch {
      throw new OrchError("unavailable", "the conductor's database failed; nothing was stored");
    }
  }
}
