/**
 * The bench's own throwaway deployment: a CA and certificates made in this
 * process, a players file naming the simulated players, and a real
 * conductor started as a child process from the same entry point as the
 * bench itself, its log drained to a file.
 *
 * @module
 */

import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { OrchError } from "../errors.ts";
import { type ChildStatus, spawnChild } from "../exec/mod.ts";
import type { BenchPgStore } from "./pg.ts";
import {
  type CertifiedKey,
  createCA,
  issueCertificate,
  issueSharedKeyCertificates,
  type TlsMaterial,
} from "../tls/mod.ts";

/** The name in the conductor's certificate, which simulated players check. */
export const CONDUCTOR_NAME = "localhost";
/** Validity of the bench's certificates, in days. */
const DAYS = 2;
/** Longest wait for the conductor's ready line. */
const READY_TIMEOUT_MS = 300_000;
/** Text of the conductor's log kept while looking for the ready line. */
const MAX_EARLY_LOG = 1 << 20;
/** The conductor's line saying it listens, and where players reach it. */
const READY_LINE = /conductor ready players=(\S+):(\d+)/;

/** The bench player name for index `i` (0-based): `bench-00001`, `bench-00002`, … */
export function benchPlayerName(i: number): string {
  return `bench-${String(i + 1).padStart(5, "0")}`;
}

/**
 * How to run this very program again: `deno run -A MAIN` when running under
 * a `deno` binary, else the executable itself (a compiled orch).
 */
export function selfCommand(): string[] {
  const exe = Deno.execPath();
  if (/^deno(\.exe)?$/.test(basename(exe))) {
    const main = Deno.mainModule.startsWith("file:")
      ? fileURLToPath(Deno.mainModule)
      : Deno.mainModule;
    return [exe, "run", "-A", main];
  }
  return [exe];
}

/** The files of a deployment. */
export interface DeploymentFiles {
  dir: string;
  ca: string;
  cert: string;
  key: string;
  playersFile: string;
  db: string;
  socket: string;
  log: string;
}

/**
 * The command line of the conductor under test; `--init` creates its
 * database when absent. Its store is the deployment's SQLite file, or the
 * PostgreSQL database `store` (the password from the file named, else from
 * the environment, which the conductor inherits).
 */
export function conductorArgv(
  f: DeploymentFiles,
  port: number,
  heartbeatMs: number,
  store?: BenchPgStore,
): string[] {
  const where = store === undefined ? ["--db", f.db] : [
    "--store",
    store.spec,
    ...(store.passwordFile ? ["--store-password-file", store.passwordFile] : []),
    ...(store.tlsCa ? ["--store-tls-ca", store.tlsCa] : []),
  ];
  return [
    ...selfCommand(),
    "conductor",
    "--init",
    "--listen",
    `127.0.0.1:${port}`,
    "--audience-listen",
    "off",
    "--audience-socket",
    f.socket,
    ...where,
    "--players-file",
    f.playersFile,
    // No grants file: the built-in grants let the bench's own user in, on the socket.
    "--grants",
    `${f.playersFile}.grants-none`,
    "--ca",
    f.ca,
    "--cert",
    f.cert,
    "--key",
    f.key,
    "--heartbeat",
    `${heartbeatMs}ms`,
  ];
}

/** A deployment made on disk, with certificate material for every simulated player. */
export class Deployment {
  readonly files: DeploymentFiles;
  /** The simulated players' names, in order. */
  readonly names: string[];
  readonly #ca: string;
  readonly #keyPem: string;
  readonly #certs: string[];
  readonly #notAfter: Date;

  private constructor(
    files: DeploymentFiles,
    names: string[],
    ca: string,
    keyPem: string,
    certs: string[],
    notAfter: Date,
  ) {
    this.files = files;
    this.names = names;
    this.#ca = ca;
    this.#keyPem = keyPem;
    this.#certs = certs;
    this.#notAfter = notAfter;
  }

  /** Makes the CA, the conductor's certificate, one per player (sharing one key), and the players file in `dir`. */
  static async create(dir: string, players: number): Promise<Deployment> {
    const now = new Date();
    const files: DeploymentFiles = {
      dir,
      ca: join(dir, "ca.crt"),
      cert: join(dir, "conductor.crt"),
      key: join(dir, "conductor.key"),
      playersFile: join(dir, "players"),
      db: join(dir, "conductor.db"),
      socket: join(dir, "audience.sock"),
      log: join(dir, "conductor.log"),
    };
    const ca: CertifiedKey = await createCA({ name: "orch bench CA", days: DAYS, now });
    const conductor = await issueCertificate(ca, {
      name: CONDUCTOR_NAME,
      role: "conductor",
      sans: ["127.0.0.1"],
      days: DAYS,
      now,
    });
    const names = Array.from({ length: players }, (_, i) => benchPlayerName(i));
    const made = await issueSharedKeyCertificates(ca, { names, role: "player", days: DAYS, now });
    await Deno.writeTextFile(files.ca, ca.certPem);
    await Deno.writeTextFile(files.cert, conductor.certPem);
    await Deno.writeTextFile(files.key, conductor.keyPem, { mode: 0o600 });
    await Deno.chmod(files.key, 0o600);
    await Deno.writeTextFile(files.playersFile, `# orch bench\n${names.join("\n")}\n`);
    const notAfter = new Date(now.getTime() + DAYS * 86_400_000);
    return new Deployment(files, names, ca.certPem, made.keyPem, made.certPems, notAfter);
  }

  /** What simulated player `i` connects with. */
  material(i: number): TlsMaterial {
    return {
      ca: this.#ca,
      cert: this.#certs[i],
      key: this.#keyPem,
      name: this.names[i],
      names: [this.names[i]],
      notAfter: this.#notAfter,
    };
  }
}

/** The conductor died, or never became ready. */
export class ConductorDiedError extends OrchError {
  constructor(message: string, readonly log: string) {
    super("unavailable", message);
    this.name = "ConductorDiedError";
  }
}

/** A running conductor child process. */
export class ConductorProcess {
  readonly pid: number;
  /** Where players reach it. */
  readonly port: number;
  /** performance.now() when it was spawned, and when its ready line was read. */
  readonly spawnedAt: number;
  readonly readyAt: number;
  /** Settles when it has exited. */
  readonly exited: Promise<ChildStatus>;
  /** Settles once its log is written out to the end. */
  readonly #drained: Promise<void>;
  readonly #kill: (signal: Deno.Signal) => void;
  #expectExit = false;

  private constructor(
    init: {
      pid: number;
      port: number;
      spawnedAt: number;
      readyAt: number;
      exited: Promise<ChildStatus>;
      drained: Promise<void>;
      kill: (signal: Deno.Signal) => void;
    },
  ) {
    this.pid = init.pid;
    this.port = init.port;
    this.spawnedAt = init.spawnedAt;
    this.readyAt = init.readyAt;
    this.exited = init.exited;
    this.#drained = init.drained;
    this.#kill = init.kill;
  }

  /**
   * Starts the conductor on `port` (0: any) and resolves once it logs that it
   * is ready; its log goes to the deployment's log file, appended. When
   * `signal` aborts before that, the child is killed and this rejects.
   */
  static async start(
    files: DeploymentFiles,
    port: number,
    heartbeatMs: number,
    signal?: AbortSignal,
    store?: BenchPgStore,
  ): Promise<ConductorProcess> {
    const log = await Deno.open(files.log, { create: true, append: true });
    const spawnedAt = performance.now();
    let child;
    try {
      child = spawnChild(conductorArgv(files, port, heartbeatMs, store));
    } catch (err) {
      log.close();
      throw err;
    }
    const decoder = new TextDecoder();
    let early = "";
    let onReady: (port: number) => void = () => {};
    const ready = new Promise<number>((resolve) => (onReady = resolve));
    let found = false;
    const drained = (async () => {
      try {
        for await (const chunk of child.stderr) {
          await writeAll(log, chunk);
          if (found) continue;
          early = (early + decoder.decode(chunk, { stream: true })).slice(-MAX_EARLY_LOG);
          const m = early.match(READY_LINE);
          if (m) {
            found = true;
            early = "";
            onReady(Number(m[2]));
          }
        }
      } catch {
        // The pipe broke: the conductor is gone, which `exited` reports.
      } finally {
        log.close();
      }
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const kill = () => child.kill("SIGKILL");
    signal?.addEventListener("abort", kill, { once: true });
    if (signal?.aborted) kill();
    const outcome = await Promise.race([
      ready.then((p) => ({ port: p })),
      child.status.then((status) => ({ status })),
      new Promise<{ timeout: true }>((r) =>
        timer = setTimeout(() => r({ timeout: true }), READY_TIMEOUT_MS)
      ),
    ]);
    clearTimeout(timer);
    signal?.removeEventListener("abort", kill);
    if (!("port" in outcome)) {
      child.kill("SIGKILL");
      await child.status;
      await drained;
      const tail = lastLines(early, 8);
      const why = "status" in outcome
        ? `the conductor exited (${describeStatus(outcome.status)}) before it was ready`
        : `the conductor was not ready after ${READY_TIMEOUT_MS / 1000}s`;
      throw new ConductorDiedError(why, tail);
    }
    return new ConductorProcess({
      pid: child.pid,
      port: outcome.port,
      spawnedAt,
      readyAt: performance.now(),
      exited: child.status,
      drained,
      kill: (s) => child.kill(s),
    });
  }

  /**
   * Rejects with a {@linkcode ConductorDiedError} if the conductor exits
   * without being told to; never settles otherwise.
   */
  died(files: DeploymentFiles): Promise<never> {
    return this.exited.then(async (status) => {
      if (this.#expectExit) return await new Promise<never>(() => {});
      await this.#drained;
      const tail = await Deno.readTextFile(files.log).then((t) => lastLines(t, 8), () => "");
      throw new ConductorDiedError(`the conductor died (${describeStatus(status)})`, tail);
    });
  }

  /** kill -9, and wait until it is gone. */
  async kill9(): Promise<void> {
    this.#expectExit = true;
    this.#kill("SIGKILL");
    await this.exited;
    await this.#drained;
  }

  /** SIGTERM, SIGKILL after `graceMs`; resolves once it is gone and its log is written. */
  async stop(graceMs: number): Promise<void> {
    this.#expectExit = true;
    this.#kill("SIGTERM");
    const timer = setTimeout(() => this.#kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
    await this.#drained;
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

function describeStatus(s: ChildStatus): string {
  return s.signal ? `killed by ${s.signal}` : `exit status ${s.code}`;
}

/** The last `n` lines of `text` that are not blank, each at most 300 characters, control characters escaped. */
function lastLines(text: string, n: number): string {
  return text.split("\n").filter((l) => l.trim() !== "").slice(-n).map((l) =>
    // deno-lint-ignore no-control-regex -- control characters must not reach a terminal
    l.slice(0, 300).replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) =>
      `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)
  ).join("\n");
}
