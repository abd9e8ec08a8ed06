/**
 * Authentication, authorisation and audit of the audience API, as Hono
 * middleware put in front of each route by kind. A request is first tied
 * to an identity (an audience certificate's name over HTTPS; a local user,
 * proved by a file it owns, on the Unix socket; a local user the kernel
 * names, on Orchestra's audience socket), then checked against the
 * grants; a refusal is a 401 or a 403 naming the rule that is missing,
 * recorded in the audit trail before it is answered, and nothing else
 * happens. Submits, reads of a job's parameters and cancels are recorded
 * whether allowed or refused; an accepted submit's record is committed
 * with the job.
 *
 * @module
 */

import type { Context, MiddlewareHandler } from "hono";
import { type ApiEnv, readJson, readSubmit } from "./api.ts";
import { errorMessage, OrchError } from "../errors.ts";
import type { Logger } from "../log.ts";
import {
  type AuditAction,
  decodeScheduleRequest,
  type MeView,
  type PruneResponse,
  type ScheduleRequest,
  type SubmitRequest,
} from "../protocol/mod.ts";
import type { Verb } from "../config/grants_file.ts";
import type { JobAccess, ScheduleRecord } from "../store/mod.ts";
import type { AccessControl, Principal } from "./access.ts";
import { submitOf } from "./schedules.ts";
import type { Auditor } from "./audit.ts";
import type { LocalAuthenticator } from "./local_auth.ts";
import type { LocalUsers } from "./local_users.ts";

/** What a route is, as far as who may use it goes. */
export type RouteKind =
  | "health"
  | "players"
  | "jobs"
  | "submit"
  | "job"
  | "tasks"
  | "cancel"
  | "audit"
  | "drain"
  | "schedules"
  | "schedule_add"
  | "schedule"
  | "job_events"
  | "events"
  | "prune"
  | "me";

/** What the guard hands on to a route, in the context's variables. */
export interface GuardVariables {
  /** Who made the request. */
  principal?: Principal;
  /** A submit's request, decoded (and checked against the grants). */
  submit?: SubmitRequest;
  /** For a list of jobs or schedules: only those of this caller (it cannot read others'). */
  jobsBy?: string;
  /** Called when a submit or a cancel is accepted, in the same commit as its change. */
  accepted?: (id: number) => void;
  /** A new schedule's request, decoded (and checked against the grants). */
  scheduleAdd?: ScheduleRequest;
  /** For `/v1/events`: whether the caller may read a job (by its score and targets). */
  mayRead?: (job: number) => Promise<boolean>;
  /** For `/v1/me`: the caller and its own grants. */
  me?: MeView;
  /** For a job's view: whether the caller may cancel it, decided as a cancel would be. */
  mayCancel?: boolean;
}

/** What the guard needs. */
export interface GuardDeps {
  /** The grants in force (they change on reload). */
  access: () => AccessControl;
  /** Proofs of local users; null when there is no socket. */
  local: LocalAuthenticator | null;
  users: LocalUsers;
  audit: Auditor;
  /**
   * A submit with its target expressions resolved to hosts (the grants are
   * checked against the hosts); throws `OrchError("invalid")` when they
   * cannot be.
   */
  resolve: (req: SubmitRequest) => SubmitRequest;
  /** What decides access to a job. */
  jobAccess: (id: number) => Promise<JobAccess | undefined>;
  /** A schedule's owner and job, or undefined when there is none of that name. */
  schedule?: (name: string) => { job: ScheduleRecord["job"] } | undefined;
  log: Logger;
}

/** The guard's middleware for a route of `kind`. */
export type Guard = (kind: RouteKind) => MiddlewareHandler<ApiEnv>;

/** Targets named in an audit subject, at most. */
const SUBJECT_TARGETS = 5;

/** Makes the guard. */
export function createGuard(d: GuardDeps): Guard {
  return (kind) => async (c, next) => {
    if (kind === "health") return await next();
    const action = auditedAction(kind);
    let p: Principal;
    try {
      p = await authenticate(c, d);
    } catch (err) {
      if (action && err instanceof OrchError) {
        await record(c, d, {
          who: "unauthenticated",
          action,
          subject: `${c.req.method} ${c.req.path}`,
          outcome: "refused",
          reason: err.message,
        });
      }
      throw err;
    }
    c.set("principal", p);
    // The audit trail keeps the whole reason; the caller is `told` (by default the same).
    const refuse = async (
      what: string,
      subject: string,
      reason: string,
      jobId: number | null = null,
      told = reason,
    ): Promise<never> => {
      if (action) {
        await record(c, d, { who: p.label, action, subject, outcome: "refused", reason, jobId });
      }
      throw new OrchError("forbidden", `${p.label} may not ${what}: ${told}`);
    };
    const access = d.access();
    switch (kind) {
      case "players":
      case "jobs": {
        const why = access.check(p, ["read", "read_all"]);
        if (why) await refuse(`list ${kind}`, kind, why);
        if (kind === "jobs" && !access.unrestricted(p, "read_all")) c.set("jobsBy", p.label);
        return await next();
      }
      case "drain": {
        // `/players/NAME/drain` or `/undrain`: what was asked, in words.
        const subject = c.req.path.split("/").slice(-2).reverse().join(" player ");
        // A drain grant covers the players its targets name.
        const player = (c.req.param("name") ?? "").toLowerCase();
        const why = access.check(p, ["drain"], { targets: [player] });
        if (why) await refuse("drain or undrain players", subject, why);
        await next();
        await record(c, d, {
          who: p.label,
          action: "drain",
          subject,
          outcome: c.res.status < 400 ? "allowed" : "refused",
          reason: c.res.status < 400 ? null : await errorOf(c.res),
        });
        return;
      }
      case "events": {
        const why = access.check(p, ["read", "read_all"]);
        if (why) await refuse("watch events", "events", why);
        // Each job is shown only when reading it would be allowed; the grants in force decide.
        c.set("mayRead", async (id) => {
          const job = await d.jobAccess(id);
          if (!job) return false;
          const a = d.access();
          const q = { score: job.score, targets: job.targets };
          return a.check(
            p,
            job.submittedBy === p.label ? ["read", "read_all"] : ["read_all"],
            q,
          ) ===
            null;
        });
        return await next();
      }
      case "prune": {
        const why = access.check(p, ["prune"]);
        if (why) await refuse("prune jobs", "prune of old finished jobs", why);
        await next();
        // What was pruned, from the answer: its cutoff and counts.
        const ok = c.res.status < 400;
        const subject = ok
          ? await c.res.clone().json().then(
            (r: PruneResponse) =>
              `${r.dry_run ? "dry run: " : ""}jobs finished before ${
                new Date(r.before).toISOString()
              }: ${r.jobs} jobs, ${r.tasks} tasks`,
            () => "prune of old finished jobs",
          )
          : "prune of old finished jobs";
        await record(c, d, {
          who: p.label,
          action: "prune",
          subject,
          outcome: ok ? "allowed" : "refused",
          reason: ok ? null : await errorOf(c.res),
        });
        return;
      }
      case "me": {
        // Any caller who proved who it is; like the lists, not recorded in the audit trail.
        c.set("me", {
          caller: p.label,
          grants: access.grantsOf(p).map((g) => ({
            may: [...g.may],
            scores: [...g.scores],
            targets: [...g.targets],
          })),
        });
        return await next();
      }
      case "audit": {
        const why = access.check(p, ["audit"]);
        if (why) await refuse("read the audit trail", "audit trail", why);
        return await next();
      }
      case "submit": {
        let req: SubmitRequest;
        try {
          req = await readSubmit(c.req.raw);
        } catch (err) {
          await record(c, d, {
            who: p.label,
            action: "submit",
            subject: "a submit that could not be read",
            outcome: "refused",
            reason: errorMessage(err),
          });
          throw err;
        }
        try {
          req = d.resolve(req);
        } catch (err) {
          await record(c, d, {
            who: p.label,
            action: "submit",
            subject: `score ${req.score} on ${listed(req.targets)} (unresolved)`,
            outcome: "refused",
            reason: errorMessage(err),
          });
          throw err;
        }
        const subject = `score ${req.score} on ${listed(req.targets)} (${
          req.scope === "all" ? "all-of" : "one-of"
        })`;
        const why = access.check(p, ["submit"], { score: req.score, targets: req.targets });
        if (why) await refuse(`submit ${subject}`, subject, why);
        c.set("submit", req);
        let accepted = false;
        c.set("accepted", (id) => {
          accepted = true;
          d.audit.record({
            ...origin(c),
            who: p.label,
            action: "submit",
            subject,
            job_id: id,
            outcome: "allowed",
          });
        });
        await next();
        if (!accepted) {
          await record(c, d, {
            who: p.label,
            action: "submit",
            subject,
            outcome: "refused",
            reason: await errorOf(c.res),
          });
        }
        return;
      }
      case "schedules": {
        const why = access.check(p, ["schedule", "read_all"]);
        if (why) await refuse("list schedules", "schedules", why);
        // Like jobs: others' schedules (their params) only with read_all over everything.
        if (!access.unrestricted(p, "read_all")) c.set("jobsBy", p.label);
        return await next();
      }
      case "schedule_add": {
        let req: ScheduleRequest;
        try {
          req = decodeScheduleRequest(await readJson(c.req.raw));
        } catch (err) {
          await refuse("add a schedule", "a schedule that could not be read", errorMessage(err))
            .catch(() => {});
          throw err;
        }
        const subject = `add schedule ${req.name}: score ${req.job.score} on ${
          listed(req.job.targets)
        } (${req.job.scope === "all" ? "all-of" : "one-of"})`;
        // The grants are checked against the hosts the targets choose now (and again at each run).
        let hosts: string[];
        try {
          hosts = d.resolve(submitOf(req.job)).targets;
        } catch (err) {
          await refuse(subject, subject, errorMessage(err)).catch(() => {});
          throw err;
        }
        const q = { score: req.job.score, targets: hosts };
        const why = access.check(p, ["schedule"], q) ?? access.check(p, ["submit"], q);
        if (why) await refuse(subject, subject, why);
        c.set("scheduleAdd", req);
        return await guardedScheduleChange(c, d, p.label, subject, next);
      }
      case "schedule": {
        const name = c.req.param("name") ?? "";
        const what = `${c.req.method === "DELETE" ? "remove" : "run"} schedule ${name}`;
        const any = access.check(p, ["schedule"]);
        if (any) await refuse(what, what, any);
        const s = d.schedule?.(name);
        if (!s) return await next(); // The route answers 404 (or 400 for a bad name).
        let hosts: string[];
        try {
          hosts = d.resolve(submitOf(s.job)).targets;
        } catch {
          hosts = s.job.targets; // Its targets match no player now: judged as written.
        }
        const why = access.check(p, ["schedule"], { score: s.job.score, targets: hosts });
        if (why) await refuse(what, what, why);
        return await guardedScheduleChange(c, d, p.label, what, next);
      }
      case "job":
      case "job_events":
      case "tasks":
      case "cancel": {
        const id = jobIdOf(c);
        if (id === null) return await next(); // The route answers 400 for a bad id.
        const verb: Verb = kind === "cancel" ? "cancel" : "read";
        const all: Verb = kind === "cancel" ? "cancel_all" : "read_all";
        const what = `${kind === "cancel" ? "cancel" : "read"} job ${id}`;
        // A caller who may read no job at all does not learn which jobs exist.
        const any = access.check(p, [verb, all]);
        if (any) await refuse(what, `job ${id}`, any, id);
        const job = await d.jobAccess(id);
        if (!job) throw new OrchError("not_found", `no job ${id}`);
        const subject = `job ${id} (score ${job.score}, submitted by ${job.submittedBy})`;
        const own = job.submittedBy === p.label;
        const why = access.check(p, own ? [verb, all] : [all], {
          score: job.score,
          targets: job.targets,
        });
        if (why) {
          // Another's job: the refusal does not tell its score, targets or submitter.
          const told = own
            ? why
            : `no grant in ${access.sourceName} gives ${p.label} ${all} over this job, which is another's`;
          await refuse(what, subject, why, id, told);
        }
        if (kind === "job") {
          // The same rules as the cancel route: own jobs need cancel, others' cancel_all.
          const q = { score: job.score, targets: job.targets };
          c.set(
            "mayCancel",
            access.check(p, own ? ["cancel", "cancel_all"] : ["cancel_all"], q) === null,
          );
        }
        const act: AuditAction = kind === "cancel" ? "cancel" : "read_params";
        let recorded = kind === "tasks"; // Allowed page reads are not recorded: they are many.
        const allowed = () => {
          recorded = true;
          d.audit.record({
            ...origin(c),
            who: p.label,
            action: act,
            subject,
            job_id: id,
            outcome: "allowed",
          });
        };
        // A cancel is recorded in the commit that cancels; a read once it is answered.
        if (kind === "cancel") c.set("accepted", allowed);
        await next();
        if (recorded) return;
        if (c.res.status < 400) allowed();
        else {
          await record(c, d, {
            who: p.label,
            action: act,
            subject,
            jobId: id,
            outcome: "refused",
            reason: await errorOf(c.res),
          });
        }
        return;
      }
    }
  };
}

/** Runs a change of schedules and records it in the audit trail, allowed or refused. */
async function guardedScheduleChange(
  c: Context<ApiEnv>,
  d: GuardDeps,
  who: string,
  subject: string,
  next: () => Promise<void>,
): Promise<void> {
  await next();
  const allowed = c.res.status < 400;
  await record(c, d, {
    who,
    action: "schedule",
    subject,
    outcome: allowed ? "allowed" : "refused",
    reason: allowed ? null : await errorOf(c.res),
  });
}

/** The audit action of a route, for those whose every use is recorded. */
function auditedAction(kind: RouteKind): AuditAction | null {
  switch (kind) {
    case "schedule_add":
    case "schedule":
      return "schedule";
    case "submit":
      return "submit";
    case "drain":
      return "drain";
    case "prune":
      return "prune";
    case "cancel":
      return "cancel";
    case "job":
    case "job_events":
    case "tasks":
      return "read_params";
    default:
      return null;
  }
}

/** Ties the request to an identity; 401 when it cannot be. */
async function authenticate(c: Context<ApiEnv>, d: GuardDeps): Promise<Principal> {
  const caller = c.env.caller;
  if (caller.transport === "https") {
    return { label: `audience:${caller.name}`, groups: [] };
  }
  // Proved by the transport itself: the kernel named the socket's peer.
  if (caller.auth === "peer_credentials") {
    const peer = c.env.peer;
    if (!peer) throw new OrchError("unauthenticated", "the socket's peer is not known");
    const user = await d.users.lookup(peer.uid, peer.gid);
    c.env.caller = { transport: "socket", name: user.name, auth: "peer_credentials" };
    return { label: `local:${user.name}`, groups: user.groups };
  }
  if (!d.local) {
    throw new OrchError("unauthenticated", "this conductor takes no local proofs");
  }
  const cred = await d.local.verify(c.req.header("authorization") ?? null);
  const user = await d.users.lookup(cred.uid, cred.gid);
  c.env.caller = { transport: "socket", name: user.name, auth: "file_ownership" };
  return { label: `local:${user.name}`, groups: user.groups };
}

/** Where the request came from, for the audit trail. */
function origin(c: Context<ApiEnv>): { auth: string; transport: string; from: string } {
  const caller = c.env.caller;
  return {
    auth: caller.auth,
    transport: caller.transport,
    from: c.env.from ?? caller.transport,
  };
}

/** Records an audit entry and waits until it is stored: a refusal is answered only then. */
async function record(
  c: Context<ApiEnv>,
  d: GuardDeps,
  e: {
    who: string;
    action: AuditAction;
    subject: string;
    outcome: "allowed" | "refused";
    reason?: string | null;
    jobId?: number | null;
  },
): Promise<void> {
  d.audit.record({
    ...origin(c),
    who: e.who,
    action: e.action,
    subject: e.subject,
    job_id: e.jobId ?? null,
    outcome: e.outcome,
    reason: e.reason ?? null,
  });
  try {
    await d.audit.durable();
  } catch {
    throw new OrchError("unavailable", "the conductor's database failed; nothing was stored");
  }
}

/** The message of an error answer, for the audit trail. */
async function errorOf(res: Response): Promise<string> {
  try {
    const body = await res.clone().json() as { error?: { message?: unknown } };
    if (typeof body.error?.message === "string") return body.error.message;
  } catch {
    // Not an error body: the status is all there is.
  }
  return `answered ${res.status}`;
}

function jobIdOf(c: Context<ApiEnv>): number | null {
  const text = c.req.param("id") ?? "";
  return /^\d{1,15}$/.test(text) && Number(text) >= 1 ? Number(text) : null;
}

function listed(targets: readonly string[]): string {
  const head = targets.slice(0, SUBJECT_TARGETS).join(", ");
  return targets.length > SUBJECT_TARGETS
    ? `${head} and ${targets.length - SUBJECT_TARGETS} more`
    : head;
}
