/**
 * Where the conductor's store is, as one spec: a SQLite file
 * (`sqlite:/var/lib/orchestra/conductor.db`, or a bare path as the `db` key
 * takes) or a PostgreSQL database (`postgres://USER@HOST[:PORT]/DB?sslmode=…`,
 * `postgresql://…`, or libpq's Unix socket form
 * `postgres://USER@/DB?host=/run/postgresql`). Text that begins with
 * `postgres:` or `postgresql:` without `//` is refused, not taken for a path.
 *
 * The password is never part of the spec: a URL holding one is refused (a
 * command line shows in `ps`, a config file is read by many). It comes, in
 * order, from a file only its owner can read (`store_password_file`), the
 * environment (`ORCH_STORE_PASSWORD`, then `PGPASSWORD`), or not at all
 * (trust, peer or certificate authentication). No message ever quotes it.
 *
 * @module
 */

import { OrchError } from "../errors.ts";
import { path } from "./spec.ts";

/** The ways to reach PostgreSQL over TLS, as libpq names them. */
export const SSL_MODES = ["disable", "require", "verify-ca", "verify-full"] as const;

/** One of {@linkcode SSL_MODES}. */
export type SslMode = typeof SSL_MODES[number];

/** A SQLite conductor database. */
export interface SqliteStoreSpec {
  kind: "sqlite";
  /** The file. */
  path: string;
}

/** A PostgreSQL conductor database. */
export interface PostgresStoreSpec {
  kind: "postgres";
  user: string;
  /** A host name or address, or (when `socket`) the folder of the server's Unix socket. */
  host: string;
  port: number;
  database: string;
  /** The server is reached over its Unix socket in the folder `host`. */
  socket: boolean;
  /**
   * TLS: as the URL's `sslmode` says, else `verify-full` over TCP (the
   * network between conductor and database is not trusted) and `disable`
   * over a Unix socket (the kernel carries it; nothing can listen in, and
   * the socket's file mode and peer authentication already say who connects).
   */
  sslmode: SslMode;
  /** The URL's `sslrootcert`: a file of CA certificates to trust, or null. */
  sslrootcert: string | null;
  /**
   * The URL the store opens: `postgres://USER@HOST:PORT/DB`, with `?host=DIR`
   * for a socket; no password and no TLS parameter (TLS is passed apart).
   */
  url: string;
}

/** Either store. */
export type StoreSpec = SqliteStoreSpec | PostgresStoreSpec;

/** Environment variables holding the password, in the order they are looked at. */
export const STORE_PASSWORD_ENV = ["ORCH_STORE_PASSWORD", "PGPASSWORD"] as const;

/** PostgreSQL's own default when the URL has no host: Debian's socket folder. */
export const DEFAULT_SOCKET_DIR = "/run/postgresql";

/** Longest spec taken (a URL or a path). */
const MAX_SPEC = 4096;
/** Largest password file read. */
const MAX_PASSWORD_FILE = 4096;
/** Largest CA file read. */
const MAX_CA_FILE = 1 << 20;

/**
 * The keys that say where the store is, declared once for `orch conductor`
 * (config file and flags) and `orch store migrate`.
 */
export const storeKeys = {
  store_password_file: path(
    "",
    `File holding the PostgreSQL store's password (mode 0600 or 0400, one line); "" takes it from ORCH_STORE_PASSWORD, else PGPASSWORD, else none.`,
    { allowEmpty: true },
  ),
  store_tls_ca: path(
    "",
    `CA certificates (PEM) the PostgreSQL server's certificate is checked against, as the URL's sslrootcert; "" uses the URL's, else the system's.`,
    { allowEmpty: true },
  ),
};

function wrong(where: string, what: string, hint?: string): OrchError {
  return new OrchError("config", `${where}: ${what}`, hint === undefined ? undefined : { hint });
}

/**
 * Parses a store spec. `where` names it in messages (`--to`, `store`).
 * Throws `OrchError("config")` naming the part that is wrong; a password in
 * the URL is refused without being quoted.
 *
 * @example
 * ```ts
 * parseStoreSpec("postgres://orch@db.example:5432/orch?sslmode=verify-full", "--to");
 * parseStoreSpec("sqlite:/var/lib/orchestra/conductor.db", "--from");
 * ```
 */
export function parseStoreSpec(text: string, where: string): StoreSpec {
  if (text.length > MAX_SPEC) throw wrong(where, `longer than ${MAX_SPEC} characters`);
  if (text === "") throw wrong(where, "is empty; give sqlite:PATH or postgres://USER@HOST/DB");
  // deno-lint-ignore no-control-regex -- control characters are what is refused
  if (/[\x00-\x1f\x7f]/.test(text)) throw wrong(where, "holds a control character");
  if (text.startsWith("sqlite:")) {
    const p = text.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
    if (p === "") throw wrong(where, "sqlite: names no file (sqlite:/path/to/conductor.db)");
    return { kind: "sqlite", path: p };
  }
  // "postgres:" without "//" is no SQLite path: the rest may hold a password, so it is not quoted.
  const bare = /^(postgres(?:ql)?):(?!\/\/)/i.exec(text);
  if (bare !== null) {
    throw wrong(
      where,
      `${bare[1]}: is not followed by //; a PostgreSQL store is postgres://USER@HOST[:PORT]/DB`,
      "write postgres://, and give no password in it (--store-password-file or ORCH_STORE_PASSWORD)",
    );
  }
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(text);
  if (scheme === null) return { kind: "sqlite", path: text };
  const name = scheme[1].toLowerCase();
  if (name !== "postgres" && name !== "postgresql") {
    throw wrong(
      where,
      `the scheme ${JSON.stringify(scheme[1])} is not one of sqlite, postgres, postgresql`,
    );
  }
  return parsePostgres(text, where);
}

function parsePostgres(text: string, where: string): PostgresStoreSpec {
  const rest = text.slice(text.indexOf("://") + 3);
  const authEnd = rest.search(/[/?#]/);
  const authority = authEnd < 0 ? rest : rest.slice(0, authEnd);
  const at = authority.lastIndexOf("@");
  const userinfo = at < 0 ? "" : authority.slice(0, at);
  if (userinfo.includes(":")) {
    throw wrong(
      where,
      "the URL holds a password; it would show in ps and in config files",
      `remove it from the URL; put it in a file of mode 0600 named by --store-password-file (store_password_file), or in ORCH_STORE_PASSWORD`,
    );
  }
  const hostPart = at < 0 ? authority : authority.slice(at + 1);
  // URL() refuses an empty host after "user@"; libpq takes it for the default socket.
  const emptyHost = hostPart === "";
  let u: URL;
  try {
    u = new URL(
      `postgres://${at < 0 ? "" : `${userinfo}@`}${emptyHost ? "localhost" : hostPart}${
        authEnd < 0 ? "" : rest.slice(authEnd)
      }`,
    );
  } catch {
    throw wrong(where, "is not a URL (postgres://USER@HOST[:PORT]/DB)");
  }
  if (u.hash !== "") throw wrong(where, "the URL has a #fragment, which means nothing here");
  const user = decode(u.username, where, "user");
  if (user === "") {
    throw wrong(where, "the URL names no user (postgres://USER@HOST/DB)");
  }
  const database = decode(u.pathname.replace(/^\//, ""), where, "database");
  if (database === "" || database.includes("/")) {
    throw wrong(where, "the URL names no database, or more than one path part (…/DB)");
  }
  let port = 5432;
  if (u.port !== "") {
    port = Number(u.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw wrong(where, `the port ${u.port} is not from 1 to 65535`);
    }
  }
  let host = emptyHost ? "" : u.hostname.replace(/^\[|\]$/g, "");
  let sslmode: SslMode | null = null;
  let sslrootcert: string | null = null;
  const seen = new Set<string>();
  for (const [k, v] of u.searchParams) {
    if (seen.has(k)) throw wrong(where, `the URL's parameter ${JSON.stringify(k)} is given twice`);
    seen.add(k);
    if (k === "host") {
      if (!v.startsWith("/")) {
        throw wrong(where, "the URL's host parameter must be the absolute folder of a Unix socket");
      }
      host = v;
    } else if (k === "sslmode") {
      if (!(SSL_MODES as readonly string[]).includes(v)) {
        throw wrong(
          where,
          `the URL's sslmode ${JSON.stringify(v)} is not one of ${SSL_MODES.join(", ")}`,
        );
      }
      sslmode = v as SslMode;
    } else if (k === "sslrootcert") {
      if (v === "") throw wrong(where, "the URL's sslrootcert is empty");
      sslrootcert = v;
    } else if (k === "password") {
      throw wrong(
        where,
        "the URL holds a password (parameter password)",
        "remove it; put it in a file of mode 0600 named by --store-password-file, or in ORCH_STORE_PASSWORD",
      );
    } else {
      throw wrong(
        where,
        `the URL has the parameter ${
          JSON.stringify(k)
        }; only host, sslmode and sslrootcert are known`,
      );
    }
  }
  if (host === "") host = DEFAULT_SOCKET_DIR;
  const socket = host.startsWith("/");
  if (socket && (sslmode === "verify-ca" || sslmode === "verify-full" || sslmode === "require")) {
    throw wrong(
      where,
      `sslmode ${sslmode} over a Unix socket (${host}): PostgreSQL speaks no TLS on a socket`,
      "leave sslmode out, or reach the server over TCP",
    );
  }
  const mode: SslMode = sslmode ?? (socket ? "disable" : "verify-full");
  const hostInUrl = socket ? "localhost" : (host.includes(":") ? `[${host}]` : host);
  const url = `postgres://${encodeURIComponent(user)}@${hostInUrl}:${port}/${
    encodeURIComponent(database)
  }${socket ? `?host=${encodeURIComponent(host)}` : ""}`;
  return {
    kind: "postgres",
    user,
    host,
    port,
    database,
    socket,
    sslmode: mode,
    sslrootcert,
    url,
  };
}

function decode(s: string, where: string, what: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw wrong(where, `the URL's ${what} is not valid percent-encoding`);
  }
}

/** The spec as messages show it (a URL holds no password, so all of it may show). */
export function shownStore(spec: StoreSpec): string {
  if (spec.kind === "sqlite") return `sqlite:${spec.path}`;
  return spec.socket
    ? `postgres://${spec.user}@/${spec.database}?host=${spec.host}`
    : `postgres://${spec.user}@${spec.host}:${spec.port}/${spec.database}?sslmode=${spec.sslmode}`;
}

/** Where the password and the CA come from. */
export interface StoreCredentialSources {
  /** `store_password_file`; "" or absent for none. */
  passwordFile?: string;
  /** `store_tls_ca`; "" or absent for the URL's sslrootcert. */
  tlsCa?: string;
  /** The environment (tests pass their own). */
  env?: (name: string) => string | undefined;
}

/** What a PostgreSQL store is opened with, apart from its URL. */
export interface StoreConnection {
  url: string;
  /** Absent: no password (trust, peer or certificate authentication). */
  password?: string;
  /** Where the password came from, for messages: never the password. */
  passwordFrom: string;
  tls: { mode: SslMode; ca?: string };
}

/**
 * Reads the password and CA for `spec`. Throws `OrchError("config")` naming
 * the file and what is wrong (a password file others may read, an empty
 * one); the password is never in a message.
 */
export async function storeConnection(
  spec: PostgresStoreSpec,
  src: StoreCredentialSources = {},
): Promise<StoreConnection> {
  const env = src.env ?? ((name: string) => Deno.env.get(name));
  let password: string | undefined;
  let passwordFrom = "none";
  if (src.passwordFile) {
    password = await readPasswordFile(src.passwordFile);
    passwordFrom = `store_password_file ${src.passwordFile}`;
  } else {
    for (const name of STORE_PASSWORD_ENV) {
      const v = env(name);
      if (v !== undefined && v !== "") {
        password = v;
        passwordFrom = `the environment (${name})`;
        break;
      }
    }
  }
  if (src.tlsCa && spec.sslrootcert !== null && src.tlsCa !== spec.sslrootcert) {
    throw new OrchError(
      "config",
      `store_tls_ca ${src.tlsCa} and the URL's sslrootcert ${spec.sslrootcert} name different files`,
      { hint: "give the CA in one place" },
    );
  }
  const caFile = src.tlsCa || spec.sslrootcert;
  const tls: StoreConnection["tls"] = { mode: spec.sslmode };
  if (caFile) {
    if (spec.sslmode === "disable" || spec.sslmode === "require") {
      throw new OrchError(
        "config",
        `a CA (${caFile}) is given but sslmode ${spec.sslmode} does not check the server's certificate`,
        { hint: "use sslmode=verify-full (or verify-ca), or give no CA" },
      );
    }
    tls.ca = await readCa(caFile);
  }
  return { url: spec.url, ...(password === undefined ? {} : { password }), passwordFrom, tls };
}

async function readPasswordFile(file: string): Promise<string> {
  let info: Deno.FileInfo;
  let bytes: Uint8Array;
  try {
    info = await Deno.stat(file);
    if (!info.isFile) throw new Error("not a regular file");
    if (info.size > MAX_PASSWORD_FILE) {
      throw new Error(`it is ${info.size} bytes; at most ${MAX_PASSWORD_FILE} are read`);
    }
  } catch (err) {
    throw new OrchError(
      "config",
      `cannot read store_password_file ${file}: ${(err as Error).message}`,
    );
  }
  const mode = (info.mode ?? 0) & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new OrchError(
      "config",
      `store_password_file ${file} has mode ${
        mode.toString(8).padStart(4, "0")
      }: group or others may read it; it must be 0600 or 0400`,
      { hint: `chmod 600 ${file}` },
    );
  }
  try {
    bytes = await Deno.readFile(file);
  } catch (err) {
    throw new OrchError(
      "config",
      `cannot read store_password_file ${file}: ${(err as Error).message}`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new OrchError("config", `store_password_file ${file} is not UTF-8 text`);
  }
  // One line; its end of line is not part of the password.
  const password = text.replace(/\r?\n$/, "");
  if (password === "") throw new OrchError("config", `store_password_file ${file} is empty`);
  // deno-lint-ignore no-control-regex -- a NUL is what is refused
  if (/[\r\n\x00]/.test(password)) {
    throw new OrchError(
      "config",
      `store_password_file ${file} holds more than one line (or a NUL); it must hold the password alone`,
    );
  }
  return password;
}

async function readCa(file: string): Promise<string> {
  let text: string;
  try {
    const info = await Deno.stat(file);
    if (!info.isFile) throw new Error("not a regular file");
    if (info.size > MAX_CA_FILE) throw new Error(`it is ${info.size} bytes; at most 1 MiB is read`);
    text = await Deno.readTextFile(file);
  } catch (err) {
    throw new OrchError("config", `cannot read the store's CA ${file}: ${(err as Error).message}`);
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    throw new OrchError("config", `the store's CA ${file} holds no PEM certificate`);
  }
  return text;
}
