/**
 * What the subcommands share: exit codes, config flags derived from the key
 * declarations, the audience connection flags, and logging to stderr.
 *
 * @module
 */

import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import { Option } from "@commander-js/extra-typings";
import { OrchError } from "../lib/errors.ts";
import { safe } from "./_safe.ts";
import { createLogger, type Logger, type LogLevel } from "../lib/log.ts";
import { flagName, loadConfig, type Spec, type Values } from "../lib/config/mod.ts";
import {
  type AudienceClient,
  clientFromSettings,
  resolveClientSettings,
} from "../lib/client/mod.ts";
import type { JobView } from "../lib/protocol/mod.ts";

/** Exit statuses, as documented in the README. */
export const EXIT = {
  ok: 0,
  /** A bug: orch itself failed. */
  internal: 1,
  /** Bad usage, bad input, bad configuration, or a refusal. */
  usage: 2,
  /** The job failed (no task succeeded), or lint found problems. */
  failure: 3,
  /** The job partly succeeded. */
  partial: 4,
  /** Waiting ended before the job finished. */
  pending: 5,
  /** The conductor could not be reached. */
  unavailable: 6,
  /** Nothing to do: the job had already finished (a cancel of a finished job). */
  finished: 7,
} as const;

/** The exit status `main.ts` uses; commands set it. */
export const exitState = { code: EXIT.ok as number };

const encoder = new TextEncoder();

/** Writes a line to stdout. */
export function out(line = ""): void {
  writeAll(Deno.stdout, encoder.encode(`${line}\n`));
}

/** Writes a line to stderr. */
export function err(line: string): void {
  writeAll(Deno.stderr, encoder.encode(`${line}\n`));
}

function writeAll(w: { writeSync(p: Uint8Array): number }, bytes: Uint8Array): void {
  let off = 0;
  try {
    while (off < bytes.length) off += w.writeSync(bytes.subarray(off));
  } catch (e) {
    // The reader went away (`orch jobs | head`): nobody is left to tell.
    if (!(e instanceof Deno.errors.BrokenPipe)) throw e;
  }
}

/** A logger writing to stderr. */
export function stderrLogger(level: LogLevel, format: "text" | "json"): Logger {
  return createLogger({ level, format, write: err });
}

/** The commander option property that holds config key `key`. */
function optionProp(key: string): string {
  return key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Adds `--config` and one flag per key of `spec`. */
export function addConfigFlags(cmd: CommandUnknownOpts, spec: Spec, defaultFile: string): void {
  cmd.option("-c, --config <file>", `config file (YAML; default ${defaultFile} when it exists)`);
  for (const [key, k] of Object.entries(spec)) {
    cmd.addOption(new Option(`${flagName(key)} ${k.placeholder}`, k.doc));
  }
}

/** Loads config from `--config` (or the default file) and the flags. */
export async function configFromFlags<S extends Spec>(
  spec: S,
  opts: Record<string, unknown>,
  defaultFile: string,
): Promise<Values<S>> {
  const flags: Record<string, string | undefined> = {};
  for (const key of Object.keys(spec)) {
    const v = opts[optionProp(key)];
    if (typeof v === "string") flags[key] = v;
  }
  const file = typeof opts.config === "string" ? opts.config : defaultFile;
  return await loadConfig(spec, {
    file,
    fileRequired: typeof opts.config === "string",
    flags,
    cwd: Deno.cwd(),
  });
}

/** The flags that say how to reach the conductor's audience API. */
export function addAudienceFlags(cmd: CommandUnknownOpts): void {
  cmd
    .option(
      "--socket <path>",
      "the conductor's audience socket (env ORCH_SOCKET; default /run/orchestra/audience.sock)",
    )
    .option(
      "--conductor <host:port,...>",
      "reach the conductor over HTTPS instead (env ORCH_CONDUCTOR; port 2259 when left out); " +
        "several, separated by commas, are tried in order",
    )
    .option(
      "--conductor-name <name>",
      "name the conductor's certificate must hold (default: its host)",
    )
    .option("--ca <path>", "CA certificate for HTTPS (env ORCH_CA; default /etc/orchestra/ca.crt)")
    .option(
      "--cert <path>",
      "audience certificate for HTTPS (env ORCH_CERT; default /etc/orchestra/audience.crt)",
    )
    .option(
      "--key <path>",
      "audience key for HTTPS (env ORCH_KEY; default /etc/orchestra/audience.key)",
    );
}

/**
 * A client for the conductor the audience flags name, or else the
 * environment, the client config file or the defaults (see
 * lib/client/settings.ts).
 */
export async function clientFromFlags(opts: Record<string, unknown>): Promise<AudienceClient> {
  const str = (k: string) => typeof opts[k] === "string" ? opts[k] as string : undefined;
  const settings = await resolveClientSettings({
    socket: str("socket"),
    conductor: str("conductor"),
    conductorName: str("conductorName"),
    ca: str("ca"),
    cert: str("cert"),
    key: str("key"),
  });
  return await clientFromSettings(settings);
}

/** Waits for job `id` to finish (for ever when `timeoutMs` is null), telling stderr about retries. */
export function waitForJob(
  client: AudienceClient,
  id: number,
  timeoutMs: number | null,
): Promise<JobView> {
  return client.waitJob(id, {
    timeoutMs,
    onRetry: (e) => err(`orch: ${safe(e.message)}; retrying`),
  });
}

/** Parses a job id argument. */
export function parseJobId(text: string): number {
  if (!/^\d{1,15}$/.test(text) || Number(text) < 1) {
    throw new OrchError("usage", `job id ${JSON.stringify(text)} is not a positive integer`);
  }
  return Number(text);
}

/** Resolves when the process gets one of `signals`; calls `onHup` on SIGHUP. */
export function untilSignal(signals: Deno.Signal[], onHup?: () => void): Promise<Deno.Signal> {
  return new Promise((resolve) => {
    const handlers: [Deno.Signal, () => void][] = [];
    const cleanup = () => {
      for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
    };
    for (const s of signals) {
      const h = () => {
        cleanup();
        resolve(s);
      };
      handlers.push([s, h]);
      Deno.addSignalListener(s, h);
    }
    if (onHup) {
      handlers.push(["SIGHUP", onHup]);
      Deno.addSignalListener("SIGHUP", onHup);
    }
  });
}

/** The `--limit` and `--before` flags of a listing, checked; `what` names what `--before` is. */
export function pageFlags(
  opts: { limit: string; before?: string },
  what: string,
): { limit: number; before: number | undefined } {
  if (!/^\d{1,4}$/.test(opts.limit) || Number(opts.limit) < 1 || Number(opts.limit) > 1000) {
    throw new OrchError("usage", `--limit ${JSON.stringify(opts.limit)} is not a number 1..1000`);
  }
  if (opts.before !== undefined && !/^\d{1,15}$/.test(opts.before)) {
    throw new OrchError("usage", `--before ${JSON.stringify(opts.before)} is not ${what}`);
  }
  return { limit: Number(opts.limit), before: opts.before ? Number(opts.before) : undefined };
}
