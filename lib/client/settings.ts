/**
 * Where and how an audience command reaches the conductor: the socket, or
 * the conductors to dial over HTTPS with the name their certificate must
 * hold and the CA, certificate and key to use. Each setting is taken from
 * the first source that has it, key by key:
 *
 * 1. the command's flags (`--conductor`, `--conductor-name`, `--cert`,
 *    `--key`, `--ca`, `--socket`);
 * 2. the environment (`ORCH_CONDUCTOR`, `ORCH_CONDUCTOR_NAME`, `ORCH_CERT`,
 *    `ORCH_KEY`, `ORCH_CA`, `ORCH_SOCKET`);
 * 3. the client config file: `$ORCH_CLIENT_CONFIG` when set (it must
 *    exist), else the first that exists of
 *    `$XDG_CONFIG_HOME/orch/client.yaml` (`~/.config/orch/client.yaml`)
 *    and `/etc/orchestra/client.yaml`;
 * 4. the defaults.
 *
 * Every value says where it came from, for help and error messages.
 *
 * @module
 */

import { readSmallFile, SmallFileError } from "./_read.ts";
import { OrchError } from "../errors.ts";
import type { ClientFileKey, FileValue } from "./_client_file.ts";

/** The audience settings a command's flags give (undefined: not given). */
export interface ClientFlags {
  socket?: string;
  /** One or more `host:port`, separated by commas. */
  conductor?: string;
  conductorName?: string;
  ca?: string;
  cert?: string;
  key?: string;
}

/** Where a setting came from. */
export type SettingSource =
  | { kind: "flag"; flag: string }
  | { kind: "env"; name: string }
  | { kind: "file"; path: string; line: number }
  | { kind: "default" };

/** A setting's value and its source. */
export interface Setting<T> {
  value: T;
  from: SettingSource;
}

/** A conductor's address. */
export interface ConductorAddress {
  host: string;
  port: number;
}

/** Everything an audience command needs to connect, each with its source. */
export interface ClientSettings {
  /** How the command connects: the socket, or HTTPS to `conductors`. */
  transport: "socket" | "https";
  socket: Setting<string>;
  /** The conductors to dial over HTTPS, in order; null when none is set. */
  conductors: Setting<ConductorAddress[]> | null;
  /** The name the conductors' certificates must hold; null: the host dialled. */
  conductorName: Setting<string> | null;
  ca: Setting<string>;
  cert: Setting<string>;
  key: Setting<string>;
  /** The client config file read, or null when none was. */
  file: string | null;
}

/** The environment, as the settings read it (`Deno.env` will do). */
export interface SettingsEnv {
  get(name: string): string | undefined;
}

/** Defaults of the settings. */
export const CLIENT_DEFAULTS = {
  socket: "/run/orchestra/audience.sock",
  ca: "/etc/orchestra/ca.crt",
  cert: "/etc/orchestra/audience.crt",
  key: "/etc/orchestra/audience.key",
  /** The conductor's audience HTTPS port, when an address leaves it out. */
  port: 2259,
} as const;

/** The system-wide client config file. */
export const SYSTEM_CLIENT_CONFIG = "/etc/orchestra/client.yaml";

/** Most conductors a setting may list. */
export const MAX_CONDUCTORS = 16;

/** Longest path or name a setting may hold. */
const MAX_VALUE = 4096;

/** A key, and its flag and environment variable. */
const KEYS = {
  conductor: { flag: "--conductor", env: "ORCH_CONDUCTOR", prop: "conductor" },
  conductor_name: { flag: "--conductor-name", env: "ORCH_CONDUCTOR_NAME", prop: "conductorName" },
  cert: { flag: "--cert", env: "ORCH_CERT", prop: "cert" },
  key: { flag: "--key", env: "ORCH_KEY", prop: "key" },
  ca: { flag: "--ca", env: "ORCH_CA", prop: "ca" },
  socket: { flag: "--socket", env: "ORCH_SOCKET", prop: "socket" },
} as const satisfies Record<ClientFileKey, { flag: string; env: string; prop: keyof ClientFlags }>;

/** How a source is named in messages: `--cert`, `ORCH_CERT`, `/etc/orchestra/client.yaml:3`, `default`. */
export function describeSource(from: SettingSource): string {
  switch (from.kind) {
    case "flag":
      return from.flag;
    case "env":
      return from.name;
    case "file":
      return `${from.path}:${from.line}`;
    case "default":
      return "default";
  }
}

/**
 * The client config files looked for, in order: `$ORCH_CLIENT_CONFIG` alone
 * when set, else the user's and the system's.
 */
export function clientConfigCandidates(
  env: SettingsEnv,
  system = SYSTEM_CLIENT_CONFIG,
): { paths: string[]; required: boolean } {
  const named = nonEmpty(env.get("ORCH_CLIENT_CONFIG"));
  if (named !== undefined) return { paths: [named], required: true };
  const xdg = nonEmpty(env.get("XDG_CONFIG_HOME"));
  const home = nonEmpty(env.get("HOME"));
  // The XDG base directory specification ignores a relative XDG_CONFIG_HOME.
  const base = xdg !== undefined && xdg.startsWith("/")
    ? xdg
    : home !== undefined
    ? `${home.replace(/\/+$/, "")}/.config`
    : undefined;
  const paths = base === undefined ? [] : [`${base}/orch/client.yaml`];
  return { paths: [...paths, system], required: false };
}

/**
 * Resolves the audience settings from `flags`, the environment `env`, and
 * the first client config file that exists (`opts.systemConfig` in place
 * of {@linkcode SYSTEM_CLIENT_CONFIG}, for tests). Throws an `OrchError` (`usage`
 * for a flag, `config` for the environment or the file) naming the source
 * of a bad value.
 *
 * @example
 * ```ts
 * const s = await resolveClientSettings({ cert: "me.crt" }, Deno.env);
 * console.log(s.cert.value, describeSource(s.cert.from)); // me.crt --cert
 * ```
 */
export async function resolveClientSettings(
  flags: ClientFlags,
  env: SettingsEnv = Deno.env,
  opts: { systemConfig?: string } = {},
): Promise<ClientSettings> {
  const { path: file, keys: fileKeys } = await readClientFile(env, opts.systemConfig);
  /** The raw value of `key` and its source, from the first source that has it. */
  const raw = (key: ClientFileKey): Setting<string[]> | null => {
    const k = KEYS[key];
    const flag = flags[k.prop];
    if (flag !== undefined) return { value: [flag], from: { kind: "flag", flag: k.flag } };
    const fromEnv = nonEmpty(env.get(k.env));
    if (fromEnv !== undefined) return { value: [fromEnv], from: { kind: "env", name: k.env } };
    const v = fileKeys[key];
    if (v !== undefined && file !== null) {
      return { value: v.values, from: { kind: "file", path: file, line: v.line } };
    }
    return null;
  };
  const path = (key: "cert" | "key" | "ca" | "socket"): Setting<string> => {
    const r = raw(key);
    if (r === null) return { value: CLIENT_DEFAULTS[key], from: { kind: "default" } };
    const value = r.value[0];
    checkText(value, key, r.from);
    // A relative path in the file is relative to the file's folder.
    return { value: r.from.kind === "file" ? besides(r.from.path, value) : value, from: r.from };
  };

  const socket = path("socket");
  const ca = path("ca");
  const cert = path("cert");
  const key = path("key");
  const conductorRaw = raw("conductor");
  const conductors = conductorRaw === null ? null : {
    value: parseConductors(conductorRaw.value, conductorRaw.from),
    from: conductorRaw.from,
  };
  // The name to check belongs with the conductors it names: one from a farther source than the
  // conductors' (a file's conductor_name under a --conductor flag) does not apply to them.
  const nameFound = raw("conductor_name");
  const nameRaw = nameFound !== null && conductors !== null &&
      rank(nameFound.from) < rank(conductors.from)
    ? null
    : nameFound;
  let conductorName: Setting<string> | null = null;
  if (nameRaw !== null) {
    const name = nameRaw.value[0];
    checkText(name, "conductor_name", nameRaw.from);
    if (!/^(?:[A-Za-z0-9*](?:[A-Za-z0-9._-]{0,252})|[0-9A-Fa-f:.]{2,45})$/.test(name)) {
      throw badValue(nameRaw.from, "conductor_name", `${JSON.stringify(name)} is not a host name`);
    }
    conductorName = { value: name, from: nameRaw.from };
  }
  return {
    transport: pickTransport(socket, conductors),
    socket,
    conductors,
    conductorName,
    ca,
    cert,
    key,
    file,
  };
}

/**
 * HTTPS when conductors are set by a source at least as near as the
 * socket's (a flag beats the environment, the environment the file, the
 * file the defaults); a `--socket` flag always means the socket.
 */
function pickTransport(
  socket: Setting<string>,
  conductors: Setting<ConductorAddress[]> | null,
): "socket" | "https" {
  if (conductors === null || socket.from.kind === "flag") return "socket";
  return rank(conductors.from) >= rank(socket.from) ? "https" : "socket";
}

function rank(from: SettingSource): number {
  return { flag: 3, env: 2, file: 1, default: 0 }[from.kind];
}

/** Largest client config file read. */
const MAX_CLIENT_FILE = 64 << 10;

/** Reads the first client config file that exists; none is fine unless one was named. */
async function readClientFile(
  env: SettingsEnv,
  system: string | undefined,
): Promise<{ path: string | null; keys: Partial<Record<ClientFileKey, FileValue>> }> {
  const { paths, required } = clientConfigCandidates(env, system);
  for (const path of paths) {
    let text: string;
    try {
      text = await readSmallFile(path, MAX_CLIENT_FILE);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound && !required) continue;
      const why = err instanceof Deno.errors.NotFound
        ? "does not exist"
        : err instanceof Deno.errors.PermissionDenied
        ? "cannot be read: permission denied"
        : err instanceof SmallFileError
        ? err.message
        : `cannot be read: ${(err as Error).message}`;
      throw new OrchError(
        "config",
        `client config file ${path}${required ? " (ORCH_CLIENT_CONFIG)" : ""} ${why}`,
      );
    }
    // The YAML reader is loaded only when there is a file to read.
    const { parseClientFile } = await import("./_client_file.ts");
    return { path, keys: parseClientFile(path, text) };
  }
  return { path: null, keys: {} };
}

/** Parses conductor addresses (each entry may list several, separated by commas). */
function parseConductors(entries: string[], from: SettingSource): ConductorAddress[] {
  const parts = entries.flatMap((e) => e.split(",")).map((p) => p.trim());
  if (parts.length > MAX_CONDUCTORS) {
    throw badValue(
      from,
      "conductor",
      `names ${parts.length} conductors; at most ${MAX_CONDUCTORS} are tried`,
    );
  }
  return parts.map((part) => {
    const addr = parseHostPort(part);
    if (addr === null) {
      throw badValue(from, "conductor", `${JSON.stringify(part)} is not host:port`);
    }
    return addr;
  });
}

/** `host`, `host:port`, `[v6]` or `[v6]:port`; the port is 2259 when left out. */
export function parseHostPort(text: string): ConductorAddress | null {
  const m = /^(?:\[([0-9A-Fa-f:.]{2,45})\]|([A-Za-z0-9](?:[A-Za-z0-9._-]{0,252})))(?::(\d{1,5}))?$/
    .exec(text);
  if (!m) return null;
  const host = m[1] ?? m[2];
  const port = m[3] === undefined ? CLIENT_DEFAULTS.port : Number(m[3]);
  if (port < 1 || port > 65535 || host === "0.0.0.0") return null;
  return { host, port };
}

/** Refuses an empty, over-long or control-character value. */
function checkText(value: string, key: ClientFileKey, from: SettingSource): void {
  if (value === "") throw badValue(from, key, "is empty");
  if (value.length > MAX_VALUE) throw badValue(from, key, `is longer than ${MAX_VALUE} characters`);
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) throw badValue(from, key, "holds a control character");
}

/** The error for a bad value of `key` from `from`: `usage` for a flag, `config` otherwise. */
function badValue(from: SettingSource, key: ClientFileKey, what: string): OrchError {
  switch (from.kind) {
    case "flag":
      return new OrchError("usage", `${from.flag} ${what}`);
    case "env":
      return new OrchError("config", `environment variable ${from.name} ${what}`);
    case "file":
      return new OrchError("config", `${from.path}:${from.line}: key '${key}' ${what}`);
    case "default":
      return new OrchError("internal", `the default of ${key} ${what}`);
  }
}

/** `path` as seen from the folder of `file` (unchanged when absolute). */
function besides(file: string, path: string): string {
  if (path.startsWith("/")) return path;
  const slash = file.lastIndexOf("/");
  const dir = slash < 0 ? "." : slash === 0 ? "/" : file.slice(0, slash);
  return `${dir === "/" ? "" : dir}/${path.replace(/^\.\//, "")}`;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === "" ? undefined : v;
}
