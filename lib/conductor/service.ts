/**
 * The audience's side of the conductor: submit, cancel, wait, and the
 * views. Views are read from the store (committed state only) and stay
 * small; waiting is a subscriber of the event bus, never a poll.
 *
 * @module
 */

import { OrchError } from "../errors.ts";
import type { Logger } from "../log.ts";
import {
  type AuditRecord,
  type Caller,
  callerLabel,
  type CancelResponse,
  type DrainResponse,
  type JobQuery,
  type JobSummary,
  type JobView,
  normalizePlayerName,
  ORCH_VERSION,
  type PlayerView,
  type ReadyView,
  rolloutOf,
  type ScoreInfo,
  type SubmitRequest,
  taskCountOf,
  type TaskDetail,
  type TaskPage,
  type TaskQuery,
  type TaskView,
} from "../protocol/mod.ts";
import type { AuditQuery, ConductorStore } from "../store/mod.ts";
import { admit } from "./admission.ts";
import { MAX_WAIT_MS } from "./api.ts";
import type { Clock } from "./clock.ts";
import type { Committer } from "./committer.ts";
import type { EventBus } from "./events.ts";
import type { LiveOutputs } from "./live_output.ts";
import type { TaskMachine } from "./machine.ts";
import type { PlayerGateway } from "./players.ts";
import type { Registry } from "./registry.ts";
import { requestDigest } from "./request_digest.ts";
import { type SecretBox, secretKeys } from "./secrets.ts";

/** What the service needs around it. */
export interface ServiceDeps {
  store: ConductorStore;
  clock: Clock;
  committer: Committer;
  machine: TaskMachine;
  registry: Registry;
  gateway: PlayerGateway;
  bus: EventBus;
  /** What running tasks printed lately. */
  live: LiveOutputs;
  log: Logger;
  /** Seals secret values for the store; null: they are held in memory only. */
  secrets: SecretBox | null;
  conductorId: () => string;
  /** Why the conductor is stopping (null while it runs), and whether it failed. */
  state: () => { stopping: string | null; failed: boolean };
  /** The readiness checks (the store, the listeners, stopping), as the conductor sees them. */
  ready: () => ReadyView;
}

/** The audience API's backend. */
export class AudienceService {
  readonly #d: ServiceDeps;
  /** Request ids of submits whose job is not yet committed. */
  readonly #requests = new Map<string, KnownRequest>();

  constructor(deps: ServiceDeps) {
    this.#d = deps;
  }

  #running(): void {
    const s = this.#d.state();
    if (s.stopping !== null) throw new OrchError("unavailable", s.stopping);
  }

  /** The job a stored submit with `requestId` made, who submitted it, and its digest. */
  async #storedRequest(requestId: string): Promise<KnownRequest | undefined> {
    const r = await this.#d.store.jobByRequest(requestId);
    return r && { id: r.id, by: r.submittedBy, digest: r.digest };
  }

  /**
   * Keys of `req.params` that are or may be secret: those it marks, and
   * those the score declares secret on any of its targets or anywhere. Never
   * fewer than admission finds, so that no secret value goes into a digest.
   */
  #mayBeSecret(req: SubmitRequest): string[] {
    const r = this.#d.registry;
    const infos = new Set<ScoreInfo>();
    for (const t of req.targets) {
      const info = r.announcement(t, req.score);
      if (info) infos.add(info);
    }
    const anywhere = r.anywhere(req.score);
    if (anywhere) infos.add(anywhere.info);
    return secretKeys(req.params, req.secret, infos);
  }

  /** Waits for everything recorded so far to be committed; a failed commit is `unavailable`. */
  async #durable(): Promise<void> {
    try {
      await this.#d.committer.durable();
    } catch {
      throw new OrchError("unavailable", "the conductor's database failed; nothing was stored");
    }
  }

  /**
   * `req` with its target expressions resolved against the players file:
   * `targets` the hosts chosen, `asked` the expressions. Throws
   * `OrchError("invalid")` naming a name not listed or an expression that
   * matches no player. A request resolved already is returned as it is.
   */
  resolve(req: SubmitRequest): SubmitRequest {
    if (req.asked !== undefined) return req;
    return { ...req, asked: req.targets, targets: this.#d.registry.resolve(req.targets) };
  }

  /** Validates and stores a job; resolves with its id once it is committed. */
  async submit(
    asked: SubmitRequest,
    caller: Caller,
    accepted?: (id: number) => void,
    schedule: string | null = null,
  ): Promise<number> {
    this.#running();
    const d = this.#d;
    const by = callerLabel(caller);
    const req = this.resolve(asked);
    const digest = req.request_id === null
      ? null
      : await requestDigest(req, this.#mayBeSecret(req));
    if (req.request_id !== null) {
      this.#running();
      const known = this.#requests.get(req.request_id) ??
        await this.#storedRequest(req.request_id) ?? this.#requests.get(req.request_id);
      if (known !== undefined) {
        // A request id names one submitter's submit: another's is refused, not answered with a
        // job it may not see (and its own submit silently swallowed).
        if (known.by !== by) {
          throw new OrchError(
            "conflict",
            `request id ${JSON.stringify(req.request_id)} was used by another submitter`,
            { hint: "choose request ids at random (the orch command does)" },
          );
        }
        // The same request id with another body is another submit, not this one sent again.
        // A job stored before digests were kept (null) is answered as before.
        if (known.digest !== null && known.digest !== digest) {
          throw new OrchError(
            "conflict",
            `request id ${
              JSON.stringify(req.request_id)
            } was already used for job ${known.id}, with a different request`,
            { hint: "send the same request to get that job, or choose a new request id" },
          );
        }
        // Sent again after its answer was lost: the job exists (or is being committed) already.
        d.log.info("submit sent again; answering with its job", { job: known.id, by });
        accepted?.(known.id);
        await this.#durable();
        return known.id;
      }
      this.#running();
    }
    const { secret, skipped } = admit(req, {
      authorised: d.registry.authorised,
      announcement: (p, s) => d.registry.announcement(p, s),
      anywhere: (s) => d.registry.anywhere(s),
      knownScores: () => d.registry.knownScores(),
      now: d.clock.now(),
    });
    const rollout = rolloutOf(req, taskCountOf(req));
    if (secret.length > 0 && d.secrets === null) this.#heldInMemory(req, secret);
    const box = d.secrets;
    const id = d.machine.submit(
      {
        score: req.score,
        scope: req.scope,
        targets: req.targets,
        ...(sameList(req.asked!, req.targets) ? {} : { asked: req.asked }),
        params: req.params,
        timeoutMs: req.timeout_ms,
        deadline: req.deadline,
        retries: req.retries,
        requestId: req.request_id,
        requestDigest: digest,
        submittedAt: d.clock.now(),
        caller,
        rollout,
        ...(schedule === null ? {} : { schedule }),
      },
      secret,
      box && ((job, key, value) => box.seal(job, key, value)),
      skipped,
    );
    accepted?.(id);
    const rid = req.request_id;
    if (rid !== null) {
      this.#requests.set(rid, { id, by, digest });
      d.committer.afterCommit(() => this.#requests.delete(rid));
    }
    d.log.info("job submitted", {
      job: id,
      score: req.score,
      scope: req.scope,
      targets: req.targets.length,
      skipped: skipped.length || undefined,
      secret: secret.length,
      by,
    });
    d.gateway.kick();
    await this.#durable();
    return id;
  }

  /**
   * Refuses a job whose secret values would be held in memory only for a
   * host that is not connected: an all-of job with a target offline, a
   * one-of job with none online. A restart would lose them while it waits.
   */
  #heldInMemory(req: SubmitRequest, secret: readonly string[]): void {
    const sessions = this.#d.registry.sessions;
    const offline = req.targets.filter((t) => !sessions.has(t));
    // All-of needs every target; one-of and N-of may run on those connected.
    const every = req.scope === "all" && (req.some ?? null) === null;
    if (every ? offline.length === 0 : offline.length < req.targets.length) return;
    const hosts = `${offline.slice(0, 10).join(", ")}${
      offline.length > 10 ? ` and ${offline.length - 10} more` : ""
    }`;
    const which = every
      ? `${hosts} ${offline.length === 1 ? "is" : "are"} not connected`
      : `none of ${hosts} is connected`;
    throw new OrchError(
      "conflict",
      `secret params for offline hosts need secrets_key: ${secret.join(", ")} ${
        secret.length === 1 ? "is" : "are"
      } secret and ${which}; without secrets_key, secret values live in the conductor's memory only`,
      {
        hint:
          "submit it when the hosts are connected, or set the conductor's secrets_key (see README: Secrets)",
      },
    );
  }

  /**
   * Cancels a job: tasks not started end `cancelled` at once; tasks sent to
   * a player are stopped there (their process group killed) and end
   * `cancelled` when the player reports back.
   */
  async cancel(
    id: number,
    caller: Caller,
    accepted?: (id: number) => void,
  ): Promise<CancelResponse> {
    this.#running();
    const d = this.#d;
    const by = callerLabel(caller);
    const job = d.machine.job(id);
    if (!job) {
      if (!d.machine.isOpen(id) && !(await d.store.job(id))) {
        throw new OrchError("not_found", `no job ${id}`);
      }
      // Its end may be recorded but not yet committed: once it is, the view says how it ended.
      if (d.machine.isOpen(id)) await this.#durable();
      const view = await d.store.job(id);
      if (view && view.finished_at !== null) {
        throw new OrchError(
          "finished",
          `job ${id} had already finished (${view.aggregate}) at ${
            new Date(view.finished_at).toISOString()
          }; nothing was cancelled`,
        );
      }
      this.#running();
      d.machine.cancelFinished(id);
      accepted?.(id);
      await this.#durable();
      return { id, cancelled: 0, stopping: 0 };
    }
    const { cancelled, stopping } = d.machine.cancel(job, by);
    accepted?.(id);
    await this.#durable();
    for (const t of stopping) {
      d.registry.sessions.get(t.host!)?.send({ type: "cancel", task_id: t.id, attempt: t.attempt });
    }
    d.log.info("job cancelled", { job: id, by, cancelled, stopping: stopping.length });
    return { id, cancelled, stopping: stopping.length };
  }

  /** A job (committed state, with how many tasks wait for offline hosts now), or undefined. */
  async job(id: number): Promise<JobView | undefined> {
    return this.#live(await this.#d.store.job(id));
  }

  /** `view` with the live count of its tasks waiting for a host that is not connected. */
  #live(view: JobView | undefined): JobView | undefined {
    if (view === undefined || view.finished_at !== null) return view;
    return { ...view, offline: this.#d.machine.offlineCount(view.id) };
  }

  /** `t` with what the conductor knows now: since when its host is offline (queued), what it printed so far (running). */
  #liveTask<T extends TaskView>(t: T): T {
    if (t.state === "queued") return { ...t, offline_since: this.#d.machine.offlineSince(t.id) };
    // Running: what it printed so far, in place of its (empty) tails.
    if ((t.state === "running" || t.state === "assigned") && isDetail(t)) {
      const live = this.#d.live;
      return {
        ...t,
        stdout_tail: live.text(t.id, t.attempt, "stdout") ?? t.stdout_tail,
        stderr_tail: live.text(t.id, t.attempt, "stderr") ?? t.stderr_tail,
      };
    }
    return t;
  }

  /**
   * A job once it is finished, or as it is after `timeoutMs` (or when
   * `signal` aborts, or the conductor stops), whichever comes first.
   * Undefined when there is no such job.
   */
  async waitJob(id: number, timeoutMs: number, signal?: AbortSignal): Promise<JobView | undefined> {
    const d = this.#d;
    if (timeoutMs <= 0 || d.state().stopping !== null) return await this.job(id);
    using sub = d.bus.subscribe({ job: id, types: ["job.finished"], maxQueue: 4 });
    if (!d.machine.isOpen(id)) return await this.job(id);
    const timer = d.clock.setTimeout(
      () => sub.close("time is up"),
      Math.min(timeoutMs, MAX_WAIT_MS),
    );
    const onAbort = () => sub.close("the client went away");
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await sub.next();
    } finally {
      d.clock.clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
    if (d.state().failed) {
      throw new OrchError("unavailable", "the conductor stopped: its database failed");
    }
    return await this.job(id);
  }

  /** A page of a job's tasks, or undefined when there is no such job. */
  async tasks(id: number, query: TaskQuery): Promise<TaskPage | undefined> {
    const page = await this.#d.store.tasks(id, query);
    return page && { ...page, tasks: page.tasks.map((t) => this.#liveTask(t)) };
  }

  /** One task of a job with its output tails and attempts. */
  async task(id: number, taskId: number): Promise<TaskDetail | undefined> {
    const t = await this.#d.store.task(id, taskId);
    return t && this.#liveTask(t);
  }

  /** The newest jobs that match every filter of `query`. */
  async jobs(query: JobQuery): Promise<JobSummary[]> {
    const jobs = await this.#d.store.jobs({
      ...query,
      limit: Math.min(Math.max(query.limit, 1), 1000),
    });
    // Only open jobs with queued tasks can wait for offline hosts: the others are not scanned.
    for (const j of jobs) {
      if (j.finished_at === null && (j.counts.queued ?? 0) > 0) {
        j.offline = this.#d.machine.offlineCount(j.id);
      }
    }
    return jobs;
  }

  /** Audit records, newest first. */
  audit(query: AuditQuery): Promise<AuditRecord[]> {
    return this.#d.store.audit(query);
  }

  /**
   * Drains `name` (no new work goes to it; its running work finishes, its
   * queued all-of tasks wait, one-of tasks go to other targets), or
   * undrains it; kept across restarts. Resolves once that is durable.
   */
  async drain(name: string, on: boolean, by: string): Promise<DrainResponse> {
    const d = this.#d;
    this.#running();
    const player = normalizePlayerName(name);
    if (!d.registry.authorised.has(player) && !d.registry.drained.has(player)) {
      throw new OrchError("not_found", `no player ${JSON.stringify(player)} in the players file`);
    }
    if (on !== d.registry.drained.has(player)) {
      if (on) d.registry.drained.add(player);
      else d.registry.drained.delete(player);
      d.committer.setDrained(player, on ? d.clock.now() : null);
      d.log.info(on ? "player drained" : "player undrained", { player, by });
      if (!on) d.gateway.wake(player);
    }
    await this.#durable();
    return { name: player, draining: on, running: d.machine.heldCount(player) };
  }

  /** Every player that is listed or has been seen. */
  players(): Promise<PlayerView[]> {
    return Promise.resolve(this.#d.registry.views());
  }

  /** The checks of the readiness endpoint; cheap, from memory. */
  ready(): ReadyView {
    return this.#d.ready();
  }

  /**
   * Numbers for the health endpoint; cheap, from memory. The role is always
   * `leader`: a conductor that serves leads (a lone one too); a standby
   * answers health on its own, with role `standby`.
   */
  health(): {
    role: "leader";
    conductor_id: string;
    version: string;
    players: number;
    open_tasks: number;
    open_jobs: number;
  } {
    const d = this.#d;
    return {
      role: "leader",
      conductor_id: d.conductorId(),
      version: ORCH_VERSION,
      players: d.registry.sessions.size,
      open_tasks: d.machine.size,
      open_jobs: d.machine.jobCount,
    };
  }
}

/** A request id seen: the job it made, who sent it, and the digest of what was sent. */
interface KnownRequest {
  id: number;
  by: string;
  /** Null for a job stored before digests were kept. */
  digest: string | null;
}

/** True when `t` carries its output tails (a task asked for with its output). */
function isDetail(t: TaskView): t is TaskDetail {
  return "stdout_tail" in t;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
