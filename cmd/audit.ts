/**
 * `orch audit`: the audit trail, newest first.
 *
 * @module
 */

import { command } from "../lib/cli/spec.ts";
import { OrchError } from "../lib/errors.ts";
import { AUDIT_WHO } from "../lib/protocol/mod.ts";
import {
  AUDIENCE_OPTIONS,
  audienceClient,
  JSON_OPTION,
  out,
  pageFlags,
  pageOptions,
  printJson,
} from "./_common.ts";
import { summaryOf } from "./_commands.ts";
import { formatAudit } from "./_format.ts";
import { instantFlag } from "./submit.ts";

/** `orch audit`. */
export const auditCommand = command({
  name: "audit",
  summary: summaryOf("audit"),
  description:
    "One line each: id, time, who, how they proved it, from where, the action, its outcome, " +
    "what it was about and why it was refused. Needs the audit grant.",
  options: [
    {
      long: "since",
      value: "when",
      help: "only records since then: a duration ago (1h, 7d) or a time (2026-11-22T10:00:00Z)",
    },
    {
      long: "who",
      value: "identity",
      help: "only records of this identity (audience:NAME, local:USER, player:NAME)",
    },
    ...pageOptions("50", "records"),
    ...JSON_OPTION,
    ...AUDIENCE_OPTIONS,
  ],
  examples: [
    { says: "What happened in the last hour", cmd: "orch audit --since 1h" },
    { says: "Everything bob did, as JSON", cmd: "orch audit --who audience:bob --json" },
    { says: "Refused player connections of a host", cmd: "orch audit --who player:web3" },
  ],
  async run(input) {
    const page = pageFlags(input, "a record id");
    const who = input.str("who");
    if (who !== undefined && !AUDIT_WHO.test(who)) {
      throw new OrchError(
        "usage",
        `--who ${
          JSON.stringify(who)
        } is not an identity (audience:NAME, local:USER or player:NAME)`,
      );
    }
    const sinceText = input.str("since");
    const since = sinceText === undefined
      ? undefined
      : instantFlag("--since", sinceText, Date.now(), -1);
    const client = await audienceClient(input);
    const records = await client.audit({
      limit: page.limit,
      before: page.before,
      since: since === undefined ? undefined : Math.max(0, since),
      who,
    });
    // GET /v1/audit answers {records: [...]}.
    if (input.flag("json")) printJson({ records });
    else for (const line of formatAudit(records)) out(line);
  },
});
