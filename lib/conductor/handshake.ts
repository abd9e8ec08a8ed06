/**
 * The hello, decided by pure functions: whether a player may join, and how
 * what the conductor holds for it is reconciled with what the player's
 * journal says it holds.
 *
 * @module
 */

import {
  type Hello,
  helloRange,
  type JournalEntry,
  negotiate,
  normalizePlayerName,
  PROTOCOL_RANGE,
  type Refuse,
} from "../protocol/mod.ts";
import type { PeerIdentity } from "../tls/mod.ts";

/** The answer to a hello. */
export type HelloVerdict =
  | { ok: true; name: string; /** The protocol major chosen. */ major: number }
  | { ok: false; code: "forbidden" | "protocol"; message: string };

/** What the conductor knows when it judges a hello. */
export interface HelloContext {
  /** The players file. */
  authorised: { has(name: string): boolean; readonly size: number };
  /** Its path, for messages. */
  playersFile: string;
}

/**
 * Whether `hello`, over a connection whose certificate is `identity`, is
 * from a player allowed in: a protocol major both speak (the highest is
 * chosen), a player certificate, the announced name in that certificate,
 * and the name in the players file.
 */
export function judgeHello(hello: Hello, identity: PeerIdentity, ctx: HelloContext): HelloVerdict {
  const name = normalizePlayerName(hello.name);
  const chosen = negotiate(PROTOCOL_RANGE, helloRange(hello));
  if (!chosen.ok) return { ok: false, code: "protocol", message: chosen.message };
  if (identity.role !== "player") {
    return {
      ok: false,
      code: "forbidden",
      message: `the certificate is for ${identity.role ?? "no orch role"}, not a player`,
    };
  }
  if (!identity.names.includes(name)) {
    return {
      ok: false,
      code: "forbidden",
      message: `the certificate is for ${identity.cn}, not ${name}`,
    };
  }
  if (!ctx.authorised.has(name)) {
    return {
      ok: false,
      code: "forbidden",
      message: `${name} is not in the players file ${ctx.playersFile}`,
    };
  }
  return { ok: true, name, major: chosen.major };
}

/**
 * A standby's answer to every hello: not the leader, naming the leader's
 * players address when it is known (the player dials it next), and with
 * `retryMs` the ceiling of the player's waits before it dials the standby again.
 */
export function notLeaderRefusal(leader: string | null, retryMs?: number): Refuse {
  const retry = retryMs === undefined ? {} : { retry_ms: retryMs };
  return leader === null
    ? {
      type: "refuse",
      code: "not_leader",
      message: "this conductor is a standby; no leader is known yet",
      ...retry,
    }
    : {
      type: "refuse",
      code: "not_leader",
      message: `this conductor is a standby; the leader is ${leader}`,
      leader,
      ...retry,
    };
}

/** A task the conductor holds as sent to (or running on) a player. */
export interface HeldTask {
  id: number;
  attempt: number;
  state: "assigned" | "running";
  cancelRequested: boolean;
}

/** What to do with a returning player's tasks. */
export interface Reconciliation {
  /** Sent, and in the player's journal: it started (its accept may have been lost). */
  started: number[];
  /** Sent and never accepted: it did not run, and may go anywhere again. */
  unstarted: number[];
  /** Accepted, and the player no longer knows of it: cut short. */
  lost: number[];
  /** Runs to stop on the player: cancelled meanwhile, or not expected of it any more. */
  cancel: { task_id: number; attempt: number }[];
}

/**
 * Reconciles the tasks `held` for a player with its `journal`. Journal
 * entries of another conductor database (another `conductorId`) are not
 * this conductor's business.
 */
export function reconcile(
  held: readonly HeldTask[],
  journal: readonly JournalEntry[],
  conductorId: string,
): Reconciliation {
  const mine = new Map<string, JournalEntry>();
  for (const e of journal) {
    if (e.conductor_id === conductorId) mine.set(`${e.task_id}/${e.attempt}`, e);
  }
  const out: Reconciliation = { started: [], unstarted: [], lost: [], cancel: [] };
  for (const t of held) {
    const key = `${t.id}/${t.attempt}`;
    const entry = mine.get(key);
    mine.delete(key);
    if (entry) {
      if (t.state === "assigned") out.started.push(t.id);
      if (t.cancelRequested && entry.state === "running") {
        out.cancel.push({ task_id: t.id, attempt: t.attempt });
      }
    } else if (t.state === "assigned") {
      out.unstarted.push(t.id);
    } else {
      out.lost.push(t.id);
    }
  }
  for (const e of mine.values()) {
    if (e.state === "running") out.cancel.push({ task_id: e.task_id, attempt: e.attempt });
  }
  return out;
}
