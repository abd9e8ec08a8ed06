/**
 * `orch submit SCORE --all|--one --target HOST… [KEY=VALUE…]`: submits a
 * job; prints its id, or with `--wait` waits for it and prints the outcome.
 *
 * @module
 */

import { command, type Input, options } from "../lib/cli/spec.ts";
import { parseDuration } from "../lib/config/units.ts";
import { OrchError } from "../lib/errors.ts";
import { safe } from "./_safe.ts";
import {
  type Amount,
  decodeSubmit,
  LIMITS,
  MAX_RETRIES,
  splitTargetList,
} from "../lib/protocol/mod.ts";
import { AUDIENCE_OPTIONS, audienceClient, err, exitState, JSON_OPTION, out } from "./_common.ts";
import { summaryOf } from "./_commands.ts";
import { followJob, waitWithProgress } from "./_follow.ts";
import { jobExit, printJob } from "./_format.ts";

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

/** Parses `--lines N|all` when given; undefined when not. */
export function optionalLines(text: string | undefined): number | undefined {
  return text === undefined ? undefined : linesFlag(text);
}

/** Parses `--lines N|all`. */
export function linesFlag(text: string): number {
  if (text === "all") return Infinity;
  if (!/^\d{1,6}$/.test(text)) {
    throw new OrchError("usage", `--lines ${JSON.stringify(text)} is not a number or "all"`);
  }
  return Number(text);
}

/** The options that say what a job runs where and how: shared by `orch submit` and `orch schedule add`. */
export const JOB_OPTIONS = options([
  { long: "all", help: "run on every target (one task per target)" },
  { long: "one", help: "run once, on the first free target" },
  {
    long: "some",
    value: "n|p%",
    help:
      "run on n (or p% of the) targets, each task on a distinct one, free ones first; a target that refuses or stays offline is replaced",
  },
  {
    long: "offline-wait",
    value: "duration",
    help: "with --some: how long a task waits for offline targets before it moves on (0: for ever)",
    shows: "5m",
  },
  {
    long: "target",
    short: "t",
    value: "target",
    help:
      "a host, a glob ('web*'), or selectors (role=web,dc!=mel; fact.os=linux); any of them matches; comma-separated hosts too",
    repeat: true,
    complete: "host",
  },
  {
    long: "timeout",
    value: "duration",
    help: "stop each run after this long (at most the score's max_timeout)",
    shows: "the score's timeout",
  },
  {
    long: "retries",
    value: "n",
    help: "run again after a failure, up to n times (idempotent scores only)",
    default: "0",
  },
  {
    long: "quorum",
    value: "m",
    help: "success once m tasks succeeded, failure once m cannot be; the rest end skipped",
  },
  {
    long: "batch",
    value: "n|p%",
    help: "run at most n (or p% of the) tasks at once, batch after batch",
    shows: "all at once",
  },
  {
    long: "max-errors",
    value: "n|p%",
    help: "start no more tasks once n (or p% of the) tasks failed; the rest end skipped",
    shows: "no limit",
  },
  {
    long: "batch-wait",
    value: "duration",
    help: "with --batch: wait this long between batches",
    default: "0s",
  },
]);

/** The names of {@linkcode JOB_OPTIONS}. */
export type JobOption = (typeof JOB_OPTIONS)[number]["long"];

/** The job fields the options of {@linkcode JOB_OPTIONS} say, checked. */
export function jobFlags(input: Input<JobOption>): Record<string, unknown> {
  const all = input.flag("all");
  const one = input.flag("one");
  const some = input.str("some");
  const offlineWait = input.str("offline-wait");
  const targets = input.list("target").flatMap(splitTargetList);
  const timeout = input.str("timeout");
  const quorum = input.str("quorum");
  const batch = input.str("batch");
  const maxErrors = input.str("max-errors");
  if ([all, one, some !== undefined].filter((x) => x).length !== 1) {
    throw new OrchError("usage", "say --all, --one or --some N (exactly one of them)");
  }
  if (offlineWait !== undefined && some === undefined) {
    throw new OrchError("usage", "--offline-wait is for --some jobs");
  }
  if (targets.length === 0) {
    throw new OrchError("usage", "name at least one target with --target HOST|GLOB|SELECTOR");
  }
  return {
    scope: one ? "one" : "all",
    targets,
    timeout_ms: timeout === undefined ? null : timeoutFlag(timeout),
    retries: retriesFlag(input.str("retries")!),
    quorum: quorum === undefined ? null : quorumFlag(quorum),
    batch: batch === undefined ? null : amountFlag("--batch", batch),
    max_errors: maxErrors === undefined ? null : amountFlag("--max-errors", maxErrors),
    batch_wait_ms: durationFlag("--batch-wait", input.str("batch-wait")!),
    ...(some === undefined ? {} : { some: amountFlag("--some", some) }),
    ...(offlineWait === undefined ? {} : {
      offline_wait_ms: offlineWait === "0" ? 0 : durationFlag("--offline-wait", offlineWait),
    }),
  };
}

/** Waiting for a job and following its output: shared by `orch submit` and `orch status`. */
export const WAIT_OPTIONS = options([
  {
    long: "wait",
    short: "w",
    help: "wait for the job to finish; the exit status tells the outcome",
  },
  {
    long: "follow",
    short: "f",
    help:
      "print the job's output as it arrives (host | line; host ! for stderr), then the outcome as --wait does",
  },
  {
    long: "wait-timeout",
    value: "duration",
    help: "with --wait or --follow: give up waiting after this long (exit 5)",
    shows: "wait for ever",
  },
  {
    long: "lines",
    value: "n",
    help: "with --wait or --follow: lines of each output tail to show, or all",
    // Not a `default`: when not given, stdout is left out where the response already shows it.
    shows: "5, and no stdout where the response shows it",
  },
]);

/** `orch submit`. */
export const submitCommand = command({
  name: "submit",
  summary: summaryOf("submit"),
  description:
    "Prints the job's id at once, or with --wait waits for the job to finish and prints its outcome; " +
    "the exit status then tells it (0 success, 3 failure, 4 partial, 5 still running). " +
    "A target that is offline gets its task when it connects again.",
  args: [
    { name: "score", help: "the score to run", required: true },
    { name: "params", help: "parameters as KEY=VALUE (the score sees ORC_KEY)", variadic: true },
  ],
  options: [
    ...JOB_OPTIONS,
    {
      long: "deadline",
      value: "when",
      help: "a task not started by then ends expired: a duration (10m) or a time (RFC 3339)",
      shows: "none",
    },
    {
      long: "connect-timeout",
      value: "duration",
      help: "keep trying to reach the conductor this long; the submit is sent again safely",
      default: "10s",
    },
    ...WAIT_OPTIONS,
    {
      long: "secret",
      value: "key=value",
      help: "a secret parameter: never stored or shown in clear; VALUE, @FILE or @- (stdin)",
      repeat: true,
    },
    ...JSON_OPTION,
    ...AUDIENCE_OPTIONS,
  ],
  examples: [
    {
      says: "Run the hello score on web1 and web2 and wait for the outcome",
      cmd: "orch submit hello --all --target web1,web2 --wait",
    },
    {
      says:
        "Run deploy with a parameter on every web host in Sydney, 10% at a time, following the output",
      cmd: "orch submit deploy version=1.4.2 --all -t 'role=web,dc=syd' --batch 10% --follow",
    },
    {
      says: "Run backup once, on whichever database host is free first, with a secret from a file",
      cmd: "orch submit backup --one -t 'db*' --secret token=@/etc/backup/token",
    },
    {
      says: "Submit over HTTPS to a remote conductor (or set ORCH_CONDUCTOR, or a client.yaml)",
      cmd: "orch submit hello --all -t web1 --conductor conductor.example.net --wait",
    },
  ],
  async run(input) {
    const [score, ...args] = input.args;
    const fields = jobFlags(input);
    const lines = optionalLines(input.str("lines"));
    const waitTimeout = optionalDuration("--wait-timeout", input.str("wait-timeout"));
    const params = parseParams(args);
    const secrets = await parseSecrets(input.list("secret"));
    for (const [k, v] of Object.entries(secrets)) {
      if (Object.hasOwn(params, k)) {
        throw new OrchError("usage", `parameter ${k} is given both as KEY=VALUE and as --secret`);
      }
      params[k] = v;
    }
    const deadline = input.str("deadline");
    const request = decodeSubmit({
      score,
      ...fields,
      params,
      secret: Object.keys(secrets),
      deadline: deadline === undefined ? null : deadlineFlag(deadline, Date.now()),
    });
    const retryForMs = durationFlag("--connect-timeout", input.str("connect-timeout")!);
    const json = input.flag("json");
    const client = await audienceClient(input);
    const id = await client.submit(request, {
      retryForMs,
      onRetry: (e) => err(`orch: ${safe(e.message)}; retrying`),
    });
    if (input.flag("follow")) {
      if (!json) err(`job ${id} submitted; following its output`);
      await followJob(client, id, { timeoutMs: waitTimeout, json, show: { lines } });
      return;
    }
    if (!input.flag("wait")) {
      out(json ? JSON.stringify({ id }) : String(id));
      return;
    }
    if (!json) err(`job ${id} submitted; waiting`);
    const job = await waitWithProgress(client, id, waitTimeout);
    await printJob(client, job, { json, lines });
    exitState.code = jobExit(job);
  },
});

/** An optional duration option: null when not given. */
export function optionalDuration(flag: string, text: string | undefined): number | null {
  return text === undefined ? null : durationFlag(flag, text);
}
