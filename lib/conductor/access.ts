/**
 * Who may do what: the grants (from the grants file, or built in when
 * there is none) and the decisions made from them. A decision names the
 * rule that is missing when it refuses.
 *
 * Verbs: `submit` a score on targets; `read` and `cancel` one's own jobs;
 * `read_all` and `cancel_all` anyone's; `audit` read the audit trail.
 * Every verb is bounded by the grant's score and target globs: reading or
 * cancelling a job needs a grant covering its score and every target.
 * Listing players and jobs needs `read` or `read_all` in some grant.
 *
 * @module
 */

import type { Grant, Verb } from "../config/grants_file.ts";
import { VERBS } from "../config/grants_file.ts";
import { globMatch } from "../protocol/glob.ts";

/** An authenticated caller, as grants see it. */
export interface Principal {
  /** `audience:NAME` or `local:USER`: the label jobs are recorded under. */
  label: string;
  /** For a local user: the groups it is in. */
  groups: readonly string[];
}

/** What is being asked for. */
export interface AccessQuery {
  score?: string;
  targets?: readonly string[];
}

/** Targets named in a refusal, at most. */
const NAMED_TARGETS = 5;

/** The grants in force and the decisions made from them. */
export class AccessControl {
  readonly grants: readonly Grant[];
  /** The grants file, or null when the built-in grants apply. */
  readonly source: string | null;

  constructor(grants: readonly Grant[], source: string | null) {
    this.grants = grants;
    this.source = source;
  }

  /**
   * The grants a conductor applies when it has no grants file: every verb
   * to root and to the user the conductor runs as (who can read its
   * database anyway), on the local socket only.
   */
  static builtIn(ownUser: string): AccessControl {
    const who = ownUser === "root" ? ["local:root"] : ["local:root", `local:${ownUser}`];
    return new AccessControl(
      [{ where: "built-in", who, may: new Set(VERBS), scores: ["*"], targets: ["*"] }],
      null,
    );
  }

  /** Where the grants come from, for messages. */
  get sourceName(): string {
    return this.source ?? "the built-in grants (there is no grants file)";
  }

  /** The grants that name `p`. */
  grantsOf(p: Principal): Grant[] {
    return this.grants.filter((g) => g.who.some((w) => names(w, p)));
  }

  /**
   * Null when `p` may do what `q` asks with one of `verbs`; otherwise the
   * rule that is missing, in words.
   */
  check(p: Principal, verbs: readonly Verb[], q: AccessQuery = {}): string | null {
    const mine = this.grantsOf(p);
    const covering = mine.filter((g) =>
      verbs.some((v) => g.may.has(v)) && (q.score === undefined || matchesAny(g.scores, q.score))
    );
    let missing: readonly string[] = [];
    for (const g of covering) {
      if (!q.targets) return null;
      const outside = q.targets.filter((t) => !matchesAny(g.targets, t));
      if (outside.length === 0) return null;
      if (missing.length === 0 || outside.length < missing.length) missing = outside;
    }
    const what = q.score === undefined ? "" : ` of score ${JSON.stringify(q.score)}`;
    const on = q.targets ? ` on ${listed(missing.length > 0 ? missing : q.targets)}` : "";
    const src = this.sourceName;
    return mine.length === 0
      ? `no grant in ${src} names ${p.label}${
        p.groups.length > 0 ? ` or its groups (${p.groups.join(", ")})` : ""
      }`
      : `no grant in ${src} gives ${p.label} ${verbs.join(" or ")}${what}${on}` +
        `; its grants: ${mine.map(describe).join("; ")}`;
  }

  /** True when `p` has `verb` over every score and target. */
  unrestricted(p: Principal, verb: Verb): boolean {
    return this.grantsOf(p).some((g) =>
      g.may.has(verb) && g.scores.includes("*") && g.targets.includes("*")
    );
  }
}

/** True when the grant identity `who` names `p`. */
function names(who: string, p: Principal): boolean {
  const colon = who.indexOf(":");
  const kind = who.slice(0, colon);
  const glob = who.slice(colon + 1);
  if (kind === "group") {
    return p.label.startsWith("local:") && p.groups.some((g) => globMatch(glob, g));
  }
  return p.label.startsWith(`${kind}:`) && globMatch(glob, p.label.slice(colon + 1));
}

function matchesAny(globs: readonly string[], name: string): boolean {
  return globs.some((g) => globMatch(g, name));
}

function listed(targets: readonly string[]): string {
  const head = targets.slice(0, NAMED_TARGETS).join(", ");
  return targets.length > NAMED_TARGETS
    ? `${head} and ${targets.length - NAMED_TARGETS} more`
    : head;
}

function describe(g: Grant): string {
  return `${g.where} (${[...g.may].join(", ")} of ${g.scores.join(", ")} on ${
    g.targets.join(", ")
  })`;
}
