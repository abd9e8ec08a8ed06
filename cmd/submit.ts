/**
 * `orch submit SCORE --all|--one --target HOST… [KEY=VALUE…]`: submits a
 * job; prints its id, or with `--wait` waits for it and prints the outcome.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { parseDuration } from "../lib/config/mod.ts";
import { OrchError } from "../lib/errors.ts";
import { safe } from "./_safe.ts";
import {
  type Amount,
  decodeSubmit,
  LIMITS,
  MAX_RETRIES,
  splitTargetList,
} from "../lib/protocol/mod.ts";
import { addAudienceFlags, clientFromFlags, err, exitState, out } from "./_common.ts";
import { followJob, waitWithProgress } from "./_follow.ts";
import { jobExit, printJob } from "./_format.ts";

/** Collects `--target` values: repeatable, comma-separated lists too. */
export function collectTargets(value: string, previous: string[]): string[] {
  return [...previous, ...splitTargetList(value)];
}

/** Parses `KEY=VALUE` arguments into params; the key must be well-formed. */
export function parseParams(args: string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const arg of args) {
    const eq = arg.indexOf("=");
    if (eq <= 0) {
      throw new OrchError("usage", `argument ${JSON.stringify(arg)} is not KEY=VALUE`);
    }
    const key = arg.slice(0, eq);
    if (Object.hasOwn(params, key)) throw new OrchError("usage", `parameter ${key} is given twice`);
    params[key] = arg.slice(eq + 1);
  }
  return params;
}

/** Largest file a `--secret KEY=@path` value is read from: a parameter value's limit. */
const MAX_SECRET_FILE = LIMITS.maxParamValue;

/**
 * Parses `--secret KEY=VALUE` flags: `VALUE` as it is, `@path` the content
 * of a file (one trailing newline dropped), `@-` standard input, so that a
 * secret need not be in the shell's history. The value is never echoed.
 */
export async function parseSecrets(flags: string[]): Promise<Record<string, string>> {
  const secrets: Record<string, string> = {};
  for (const flag of flags) {
    const eq = flag.indexOf("=");
    if (eq <= 0) throw new OrchError("usage", "--secret takes KEY=VALUE, KEY=@FILE or KEY=@-");
    const key = flag.slice(0, eq);
    if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(key)) {
      throw new OrchError(
        "usage",
        `--secret ${JSON.stringify(key.slice(0, 64))}=…: not a parameter key`,
      );
    }
    if (Object.hasOwn(secrets, key)) throw new OrchError("usage", `secret ${key} is given twice`);
    let value = flag.slice(eq + 1);
    if (value.startsWith("@")) {
      const from = value.slice(1);
      value = await readSecret(from === "-" ? null : from, key);
    }
    secrets[key] = value;
  }
  return secrets;
}

async function readSecret(path: string | null, key: string): Promise<string> {
  const where = path === null ? "standard input" : path;
  let bytes: Uint8Array;
  try {
    if (path === null) {
      bytes = new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer());
    } else {
      const info = await Deno.stat(path);
      if (!info.isFile || info.size > MAX_SECRET_FILE) {
        throw new Error(`not a regular file of at most ${MAX_SECRET_FILE} bytes`);
      }
      bytes = await Deno.readFile(path);
    }
  } catch (err) {
    throw new OrchError(
      "usage",
      `cannot read secret ${key} from ${where}: ${(err as Error).message}`,
    );
  }
  if (bytes.length > MAX_SECRET_FILE) {
    throw new OrchError("usage", `secret ${key} from ${where} is over ${MAX_SECRET_FILE} bytes`);
  }
  return new TextDecoder().decode(bytes).replace(/\r?\n$/, "");
}

/** Parses a `--wait-timeout` or similar duration flag. */
export function durationFlag(flag: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) {
    throw new OrchError(
      "usage",
      `${flag} ${JSON.stringify(text)} is not a duration (e.g. 30s, 10m)`,
    );
  }
  return ms;
}

/** Parses `--timeout`: a duration from 1 ms to 24 days. */
export function timeoutFlag(text: string): number {
  const ms = durationFlag("--timeout", text);
  if (ms < 1 || ms > LIMITS.maxTimeoutMs) {
    throw new OrchError(
      "usage",
      `--timeout ${JSON.stringify(text)} is out of range: from 1ms to 24d`,
    );
  }
  return ms;
}

/**
 * Parses `--deadline`: a duration from now (`10m`) or an absolute time
 * (`2026-11-22T10:00:00Z`); returns epoch ms.
 */
export function deadlineFlag(text: string, now: number): number {
  return instantFlag("--deadline", text, now, 1);
}

/**
 * Parses a flag that names a moment: a duration from `now` (`10m`, later
 * when `direction` is 1, earlier when -1) or an absolute time with its zone
 * (`2026-11-22T10:00:00Z`); returns epoch ms.
 */
export function instantFlag(flag: string, text: string, now: number, direction: 1 | -1): number {
  const ms = parseDuration(text);
  if (ms !== undefined) return now + direction * ms;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    const t = Date.parse(text);
    if (!Number.isNaN(t)) return t;
  }
  throw new OrchError(
    "usage",
    `${flag} ${
      JSON.stringify(text)
    } is neither a duration (10m) nor a time with its zone (2026-11-22T10:00:00Z)`,
  );
}

/** Parses `--retries N`. */
export function retriesFlag(text: string): number {
  if (!/^\d{1,3}$/.test(text) || Number(text) > MAX_RETRIES) {
    throw new OrchError(
      "usage",
      `--retries ${JSON.stringify(text)} is not a number 0..${MAX_RETRIES}`,
    );
  }
  return Number(text);
}

/** Parses `--quorum M`: a whole number of tasks. */
export function quorumFlag(text: string): number {
  if (!/^\d{1,6}$/.test(text) || Number(text) < 1) {
    throw new OrchError(
      "usage",
      `--quorum ${JSON.stringify(text)} is not a number of tasks (1 or more)`,
    );
  }
  return Number(text);
}

/** Parses an amount of tasks: `N` (1 or more) or `P%` (1..100). */
export function amountFlag(flag: string, text: string): Amount {
  const m = /^(\d{1,6})(%?)$/.exec(text);
  const n = m ? Number(m[1]) : NaN;
  if (!m || n < 1 || (m[2] === "%" && n > 100)) {
    throw new OrchError(
      "usage",
      `${flag} ${
        JSON.stringify(text)
      } is neither a number of tasks (1 or more) nor a percentage (1%..100%)`,
    );
  }
  return m[2] === "%" ? { percent: n } : { count: n };
}

/** Parses `--lines N|all`. */
export function linesFlag(text: string): number {
  if (text === "all") return Infinity;
  if (!/^\d{1,6}$/.test(text)) {
    throw new OrchError("usage", `--lines ${JSON.stringify(text)} is not a number or "all"`);
  }
  return Number(text);
}

/** The flags that say what a job runs where and how: shared by `orch submit` and `orch schedule add`. */
export function addJobFlags(cmd: CommandUnknownOpts): void {
  cmd
    .option("--all", "run on every target (one task per target)")
    .option("--one", "run once, on the first free target")
    .option(
      "--some <n|p%>",
      "run on n (or p% of the) targets, each task on a distinct one, free ones first; a target that refuses or stays offline is replaced",
    )
    .option(
      "--offline-wait <duration>",
      "with --some: how long a task waits for offline targets before it moves on (default 5m; 0: for ever)",
    )
    .option(
      "-t, --target <target>",
      "a host, a glob ('web*'), or selectors (role=web,dc!=mel; fact.os=linux) (repeatable: any of them; comma-separated hosts too)",
      collectTargets,
      [],
    )
    .option(
      "--timeout <duration>",
      "stop each run after this long (at most the score's max_timeout)",
    )
    .option("--retries <n>", "run again after a failure, up to n times (idempotent scores only)")
    .option(
      "--quorum <m>",
      "success once m tasks succeeded, failure once m cannot be; the rest end skipped",
    )
    .option("--batch <n|p%>", "run at most n (or p% of the) tasks at once, batch after batch")
    .option(
      "--max-errors <n|p%>",
      "start no more tasks once n (or p% of the) tasks failed; the rest end skipped",
    )
    .option("--batch-wait <duration>", "with --batch: wait this long between batches");
}

/** What {@linkcode addJobFlags} adds, as commander hands it over. */
export interface JobFlagValues {
  all?: boolean;
  one?: boolean;
  some?: string;
  offlineWait?: string;
  target: string[];
  timeout?: string;
  retries?: string;
  quorum?: string;
  batch?: string;
  maxErrors?: string;
  batchWait?: string;
}

/** The job fields the flags of {@linkcode addJobFlags} say, checked. */
export function jobFlags(opts: JobFlagValues): Record<string, unknown> {
  if ([opts.all, opts.one, opts.some].filter((x) => x !== undefined).length !== 1) {
    throw new OrchError("usage", "say --all, --one or --some N (exactly one of them)");
  }
  if (opts.offlineWait !== undefined && opts.some === undefined) {
    throw new OrchError("usage", "--offline-wait is for --some jobs");
  }
  if (opts.target.length === 0) {
    throw new OrchError("usage", "name at least one target with --target HOST|GLOB|SELECTOR");
  }
  return {
    scope: opts.one ? "one" : "all",
    targets: opts.target,
    timeout_ms: opts.timeout === undefined ? null : timeoutFlag(opts.timeout),
    retries: opts.retries === undefined ? 0 : retriesFlag(opts.retries),
    quorum: opts.quorum === undefined ? null : quorumFlag(opts.quorum),
    batch: opts.batch === undefined ? null : amountFlag("--batch", opts.batch),
    max_errors: opts.maxErrors === undefined ? null : amountFlag("--max-errors", opts.maxErrors),
    batch_wait_ms: opts.batchWait === undefined ? 0 : durationFlag("--batch-wait", opts.batchWait),
    ...(opts.some === undefined ? {} : { some: amountFlag("--some", opts.some) }),
    ...(opts.offlineWait === undefined ? {} : {
      offline_wait_ms: opts.offlineWait === "0"
        ? 0
        : durationFlag("--offline-wait", opts.offlineWait),
    }),
  };
}

/** `orch submit`. */
export function submitCommand(): CommandUnknownOpts {
  const cmd = new Command("submit")
    .description("submit a job: run SCORE on all of, or one of, the target hosts")
    .argument("<score>", "the score to run")
    .argument("[params...]", "parameters as KEY=VALUE (the score sees ORC_KEY)")
    .option(
      "--deadline <when>",
      "a task not started by then ends expired: a duration (10m) or a time (ISO 8601)",
    )
    .option(
      "--connect-timeout <duration>",
      "keep trying to reach the conductor this long; the submit is sent again safely (default 10s)",
    )
    .option("-w, --wait", "wait for the job to finish; the exit status tells the outcome")
    .option(
      "-f, --follow",
      "print the job's output as it arrives (host | line; host ! for stderr), then the outcome as --wait does",
    )
    .option(
      "--wait-timeout <duration>",
      "with --wait or --follow: give up waiting after this long (exit 5)",
    )
    .option(
      "--secret <key=value>",
      "a secret parameter: never stored or shown in clear; VALUE, @FILE or @- (stdin) (repeatable)",
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option("--json", "print JSON instead of text")
    .option(
      "--lines <n>",
      "with --wait or --follow: lines of each output tail to show, or all (default 5)",
    );
  addJobFlags(cmd);
  addAudienceFlags(cmd);
  cmd.action(async (score, args, opts) => {
    // Typed by commander only for the options added in this chain.
    const fields = jobFlags(opts as unknown as JobFlagValues);
    const lines = opts.lines === undefined ? undefined : linesFlag(opts.lines);
    const waitTimeout = opts.waitTimeout === undefined
      ? null
      : durationFlag("--wait-timeout", opts.waitTimeout);
    const params = parseParams(args);
    const secrets = await parseSecrets(opts.secret);
    for (const [k, v] of Object.entries(secrets)) {
      if (Object.hasOwn(params, k)) {
        throw new OrchError("usage", `parameter ${k} is given both as KEY=VALUE and as --secret`);
      }
      params[k] = v;
    }
    const request = decodeSubmit({
      score,
      ...fields,
      params,
      secret: Object.keys(secrets),
      deadline: opts.deadline === undefined ? null : deadlineFlag(opts.deadline, Date.now()),
    });
    const retryForMs = opts.connectTimeout === undefined
      ? 10_000
      : durationFlag("--connect-timeout", opts.connectTimeout);
    const client = await clientFromFlags(opts);
    const id = await client.submit(request, {
      retryForMs,
      onRetry: (e) => err(`orch: ${safe(e.message)}; retrying`),
    });
    if (opts.follow) {
      if (!opts.json) err(`job ${id} submitted; following its output`);
      await followJob(client, id, { timeoutMs: waitTimeout, json: opts.json, show: { lines } });
      return;
    }
    if (!opts.wait) {
      out(opts.json ? JSON.stringify({ id }) : String(id));
      return;
    }
    if (!opts.json) err(`job ${id} submitted; waiting`);
    const job = await waitWithProgress(client, id, waitTimeout);
    await printJob(client, job, { json: opts.json, lines });
    exitState.code = jobExit(job);
  });
  return cmd;
}
