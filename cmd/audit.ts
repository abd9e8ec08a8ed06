/**
 * `orch audit`: the audit trail, newest first.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { OrchError } from "../lib/errors.ts";
import { AUDIT_WHO } from "../lib/protocol/mod.ts";
import { addAudienceFlags, clientFromFlags, out, pageFlags } from "./_common.ts";
import { formatAudit } from "./_format.ts";
import { instantFlag } from "./submit.ts";

/** `orch audit`. */
export function auditCommand(): CommandUnknownOpts {
  const cmd = new Command("audit")
    .description(
      "list the audit trail: submits, reads of parameters, cancels and refused connections, newest first",
    )
    .option(
      "--since <when>",
      "only records since then: a duration ago (1h, 7d) or a time (2026-11-22T10:00:00Z)",
    )
    .option(
      "--who <identity>",
      "only records of this identity (audience:NAME, local:USER, player:NAME)",
    )
    .option("-n, --limit <n>", "how many", "50")
    .option("--before <id>", "only records older than this id (paging)")
    .option("--json", "print JSON instead of text");
  addAudienceFlags(cmd);
  cmd.action(async (opts) => {
    const page = pageFlags(opts, "a record id");
    if (opts.who !== undefined && !AUDIT_WHO.test(opts.who)) {
      throw new OrchError(
        "usage",
        `--who ${
          JSON.stringify(opts.who)
        } is not an identity (audience:NAME, local:USER or player:NAME)`,
      );
    }
    const since = opts.since === undefined
      ? undefined
      : instantFlag("--since", opts.since, Date.now(), -1);
    const client = await clientFromFlags(opts);
    const records = await client.audit({
      limit: page.limit,
      before: page.before,
      since: since === undefined ? undefined : Math.max(0, since),
      who: opts.who,
    });
    if (opts.json) out(JSON.stringify({ records }, null, 2));
    else for (const line of formatAudit(records)) out(line);
  });
  return cmd;
}
