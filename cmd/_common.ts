/**
 * What the subcommands share: exit codes, config flags derived from the key
 * declarations, the audience connection flags, and logging to stderr.
 *
 * @module
 */

import { OrchError } from "../lib/errors.ts";
import { safe } from "./_safe.ts";
import { createLogger, type Logger, type LogLevel } from "../lib/log.ts";
import { showDefault, type Spec, type Values } from "../lib/config/spec.ts";
import {
  type AudienceClient,
  clientFromSettings,
  resolveClientSettings,
} from "../lib/client/mod.ts";
import type { JobViewJson as JobView } from "../lib/protocol/mod.ts";
import { type Input, options, type OptionSpec } from "../lib/cli/spec.ts";
import { err, out } from "./_io.ts";

export { err, EXIT, exitState, out } from "./_io.ts";

/** A logger writing to stderr. */
export function stderrLogger(level: LogLevel, format: "text" | "json"): Logger {
  return createLogger({ level, format, write: err });
}

/** `--config` and one option per key of `spec`, for a daemon reading `defaultFile`. */
export function configOptions(spec: Spec, defaultFile: string): OptionSpec[] {
  return [
    {
      long: "config",
      short: "c",
      value: "file",
      help: "config file (YAML); flags override its keys",
      shows: `${defaultFile} when it exists`,
      complete: "file",
    },
    ...Object.entries(spec).map(([key, k]): OptionSpec => ({
      long: key.replaceAll("_", "-"),
      value: k.placeholder.replace(/^<(.*)>$/, "$1"),
      help: k.doc,
      shows: showDefault(k),
      complete: k.isPath ? "file" : undefined,
    })),
  ];
}

/** Loads config from `--config` (or the default file) and the flags of {@linkcode configOptions}. */
export async function configFromFlags<S extends Spec>(
  spec: S,
  input: Input,
  defaultFile: string,
): Promise<Values<S>> {
  const flags: Record<string, string | undefined> = {};
  for (const key of Object.keys(spec)) flags[key] = input.str(key.replaceAll("_", "-"));
  const file = input.str("config");
  // The YAML reader is loaded only by the commands that read a config file.
  const { loadConfig } = await import("../lib/config/load.ts");
  return await loadConfig(spec, {
    file: file ?? defaultFile,
    fileRequired: file !== undefined,
    flags,
    cwd: Deno.cwd(),
  });
}

/** `--socket`: the audience socket, for the audience commands and `orch dashboard`. */
export const SOCKET_OPTION = {
  long: "socket",
  value: "path",
  help: "the conductor's audience socket",
  env: "ORCH_SOCKET",
  shows: "/run/orchestra/audience.sock",
  complete: "file",
} as const satisfies OptionSpec;

/** The options that say how to reach the conductor's audience API. */
export const AUDIENCE_OPTIONS = options([
  SOCKET_OPTION,
  {
    long: "conductor",
    value: "host:port,...",
    help: "reach the conductor over HTTPS instead (port 2259 when left out); " +
      "several, separated by commas, are tried in order",
    env: "ORCH_CONDUCTOR",
    complete: "host",
  },
  {
    long: "conductor-name",
    value: "name",
    help: "name the conductor's certificate must hold",
    env: "ORCH_CONDUCTOR_NAME",
    shows: "the host dialled",
  },
  {
    long: "ca",
    value: "path",
    help: "CA certificate for HTTPS",
    env: "ORCH_CA",
    shows: "/etc/orchestra/ca.crt",
    complete: "file",
  },
  {
    long: "cert",
    value: "path",
    help: "audience certificate for HTTPS",
    env: "ORCH_CERT",
    shows: "/etc/orchestra/audience.crt",
    complete: "file",
  },
  {
    long: "key",
    value: "path",
    help: "audience key for HTTPS",
    env: "ORCH_KEY",
    shows: "/etc/orchestra/audience.key",
    complete: "file",
  },
]);

/** `--json`, as every command that prints results has it. */
export const JSON_OPTION = options([
  { long: "json", help: "print one JSON object instead of text (errors too, on stderr)" },
]);

/**
 * Prints `value` as one JSON object on one line of stdout: what `--json`
 * prints, the API's answer for the same thing.
 */
export function printJson(value: object): void {
  out(JSON.stringify(value));
}

/** The names of the audience options, for commands that take them. */
export type AudienceOption = (typeof AUDIENCE_OPTIONS)[number]["long"];

/**
 * A client for the conductor the audience options of `input` name, or else
 * the environment, the client config file or the defaults (see
 * lib/client/settings.ts).
 */
export async function audienceClient(input: Input<AudienceOption>): Promise<AudienceClient> {
  const settings = await resolveClientSettings({
    socket: input.str("socket"),
    conductor: input.str("conductor"),
    conductorName: input.str("conductor-name"),
    ca: input.str("ca"),
    cert: input.str("cert"),
    key: input.str("key"),
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

/** `--limit` and `--before` of a listing of `what` (jobs, records), newest first. */
export function pageOptions(defaultLimit: string, what: string) {
  return options([
    {
      long: "limit",
      short: "n",
      value: "n",
      help: "how many, at most 1000",
      default: defaultLimit,
    },
    {
      long: "before",
      value: "id",
      help: `only ${what} older than this id (paging: the last id shown)`,
    },
  ]);
}

/** The `--limit` and `--before` options of a listing, checked; `what` names what `--before` is. */
export function pageFlags(
  input: Input<"limit" | "before">,
  what: string,
): { limit: number; before: number | undefined } {
  const limit = input.str("limit")!;
  const before = input.str("before");
  if (!/^\d{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > 1000) {
    throw new OrchError("usage", `--limit ${JSON.stringify(limit)} is not a number 1..1000`);
  }
  if (before !== undefined && !/^\d{1,15}$/.test(before)) {
    throw new OrchError("usage", `--before ${JSON.stringify(before)} is not ${what}`);
  }
  return { limit: Number(limit), before: before ? Number(before) : undefined };
}
