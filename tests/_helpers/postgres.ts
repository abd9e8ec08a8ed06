/**
 * A private PostgreSQL server for tests: `initdb` into a fresh temporary
 * folder, started with `pg_ctl` on a free loopback port and a Unix socket in
 * that folder, never a system service. One per test file (its tests share
 * it, each in a database of its own); disposing of it stops the server and
 * removes the folder.
 *
 * Local socket connections are trusted (tests and the superuser); TCP on
 * 127.0.0.1 asks for a password (scram-sha-256), for the role
 * {@linkcode PgCluster.passwordRole}.
 *
 * `fsync=off` (the default here) makes the unit suite fast and is fine
 * there: nothing in it survives a crash of the machine. A durability test
 * passes `{ fsync: true }`.
 *
 * As root (initdb refuses root), the folder is given to the `postgres` OS
 * user and the server's programs run as that user through `runuser`.
 *
 * @module
 */

import { join } from "node:path";
import pg from "pg";
import { LEADER_LOCK_KEY } from "../../lib/store/pg_store.ts";

/** Bounds of the waits of this harness. */
const START_WAIT_S = 30;
const STOP_WAIT_S = 30;
const COMMAND_WAIT_MS = 60_000;

/** Options for {@linkcode PgCluster.start}. */
export interface PgClusterOptions {
  /** Keep fsync on (durability tests); off by default. */
  fsync?: boolean;
}

/** Waits, a bounded number of times, until `check` holds. */
async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("PostgreSQL did not take a new setting within 5 s");
}

/** A finished command's output. */
interface Ran {
  code: number;
  out: string;
}

let binDirCache: string | undefined;

/** The folder of initdb, pg_ctl and psql: `pg_config --bindir`, else /usr/lib/postgresql/N/bin. */
export async function pgBinDir(): Promise<string> {
  if (binDirCache) return binDirCache;
  const found: string[] = [];
  try {
    const out = await new Deno.Command("pg_config", { args: ["--bindir"], stderr: "null" })
      .output();
    if (out.success) found.push(new TextDecoder().decode(out.stdout).trim());
  } catch {
    // No pg_config on PATH: look in Debian's folders.
  }
  try {
    const versions: number[] = [];
    for await (const e of Deno.readDir("/usr/lib/postgresql")) {
      if (/^\d+$/.test(e.name)) versions.push(Number(e.name));
    }
    versions.sort((a, b) => b - a);
    for (const v of versions) found.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    // No Debian PostgreSQL folder.
  }
  for (const dir of found) {
    try {
      await Deno.stat(join(dir, "initdb"));
      await Deno.stat(join(dir, "pg_ctl"));
      binDirCache = dir;
      return dir;
    } catch {
      // Not a server's folder (pg_config of a client-only install): try the next.
    }
  }
  throw new Error(
    "PostgreSQL's server programs (initdb, pg_ctl) were not found (pg_config --bindir, " +
      "/usr/lib/postgresql/*/bin); install the Debian package postgresql",
  );
}

/** True when this process runs as root: the server's programs then run as `postgres`. */
function isRoot(): boolean {
  return Deno.uid() === 0;
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const passwd = await Deno.readTextFile("/etc/passwd");
  for (const line of passwd.split("\n")) {
    const f = line.split(":");
    if (f[0] === "postgres") return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new Error(
    "running as root, the PostgreSQL server must run as the OS user postgres, which does not " +
      "exist; install the Debian package postgresql (it makes the user)",
  );
}

/** A free TCP port on 127.0.0.1 (free now; the server start retries when it was taken meanwhile). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Every server started and not yet disposed of: killed when the test process ends. */
const live = new Set<PgCluster>();
globalThis.addEventListener("unload", () => {
  for (const c of live) c.killNow();
});

/** A private PostgreSQL server. */
export class PgCluster implements AsyncDisposable {
  /** The role that logs in with a password over TCP. */
  static readonly passwordRole = "orch_pw";
  /** Its password (a test value). */
  static readonly password = "test-password-9f3a";

  /** The folder holding the data folder and the socket. */
  readonly dir: string;
  /** The Unix socket's folder. */
  readonly socketDir: string;
  /** The loopback port. */
  port = 0;
  /** The superuser (the OS user that ran initdb). */
  readonly superuser: string;
  readonly #bin: string;
  readonly #dataDir: string;
  readonly #fsync: boolean;
  #running = false;
  #databases = 0;

  private constructor(bin: string, dir: string, superuser: string, fsync: boolean) {
    this.#bin = bin;
    this.dir = dir;
    this.#dataDir = join(dir, "data");
    this.socketDir = join(dir, "run");
    this.superuser = superuser;
    this.#fsync = fsync;
  }

  /** Makes and starts a server in a fresh temporary folder. */
  static async start(opts: PgClusterOptions = {}): Promise<PgCluster> {
    const bin = await pgBinDir();
    const dir = await Deno.makeTempDir({ prefix: "orch-pg-" });
    const superuser = isRoot() ? "postgres" : (Deno.env.get("USER") ?? "postgres");
    const pg = new PgCluster(bin, dir, superuser, opts.fsync ?? false);
    // Registered before anything starts: a run ended midway leaves no server and no folder.
    live.add(pg);
    try {
      await Deno.mkdir(pg.socketDir);
      if (isRoot()) {
        const { uid, gid } = await postgresIds();
        await Deno.chmod(dir, 0o700);
        await Deno.chown(dir, uid, gid);
        await Deno.chown(pg.socketDir, uid, gid);
      }
      const init = await pg.#run("initdb", [
        "-D",
        pg.#dataDir,
        "-U",
        superuser,
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--no-locale",
      ]);
      if (init.code !== 0) throw new Error(`initdb failed (exit ${init.code}): ${init.out}`);
      // Local socket: trusted. TCP on loopback: a password, checked with SCRAM.
      const hba = [
        "local all all trust",
        "host all all 127.0.0.1/32 scram-sha-256",
      ].join("\n") + "\n";
      await pg.#writeOwned(join(pg.#dataDir, "pg_hba.conf"), hba);
      await pg.#startServer(true);
      await pg.psql(
        "postgres",
        `SET password_encryption = 'scram-sha-256';
         CREATE ROLE ${PgCluster.passwordRole} LOGIN PASSWORD '${PgCluster.password}';`,
      );
      return pg;
    } catch (err) {
      await pg[Symbol.asyncDispose]();
      throw err;
    }
  }

  /** A URL of database `db` over the Unix socket, as the superuser (no password). */
  socketUrl(db: string): string {
    return `postgres://${this.superuser}@localhost:${this.port}/${db}?host=${
      encodeURIComponent(this.socketDir)
    }`;
  }

  /** A URL of database `db` over TCP on loopback, as {@linkcode PgCluster.passwordRole} (no password in it). */
  tcpUrl(db: string): string {
    return `postgres://${PgCluster.passwordRole}@127.0.0.1:${this.port}/${db}`;
  }

  /**
   * Makes a fresh, empty database owned by {@linkcode PgCluster.passwordRole}
   * and returns its name (`prefix` then a number).
   */
  async createDatabase(prefix = "t"): Promise<string> {
    const name = `${prefix.replace(/[^a-z0-9_]/g, "_")}_${++this.#databases}`;
    await this.psql("postgres", `CREATE DATABASE ${name} OWNER ${PgCluster.passwordRole}`);
    return name;
  }

  /**
   * A session of its own on database `db` holding the leadership lock, as a
   * leading conductor's does; disposing of it ends the session (and the lock).
   */
  async holdLeadership(db: string): Promise<AsyncDisposable> {
    const client = new pg.Client({
      host: this.socketDir,
      port: this.port,
      user: this.superuser,
      database: db,
    });
    await client.connect();
    try {
      await client.query("SELECT pg_advisory_lock($1::bigint)", [LEADER_LOCK_KEY]);
    } catch (err) {
      await client.end();
      throw err;
    }
    return { [Symbol.asyncDispose]: () => client.end() };
  }

  /** Runs SQL in database `db` as the superuser over the socket; throws with psql's output on failure. */
  async psql(db: string, sql: string): Promise<string> {
    const r = await this.#run("psql", [
      "-X",
      "-q",
      "-A",
      "-t",
      "-v",
      "ON_ERROR_STOP=1",
      "-h",
      this.socketDir,
      "-p",
      String(this.port),
      "-U",
      this.superuser,
      "-d",
      db,
      "-c",
      sql,
    ]);
    if (r.code !== 0) throw new Error(`psql failed (exit ${r.code}): ${r.out}`);
    return r.out.trim();
  }

  /**
   * Turns on TLS with a self-signed certificate for 127.0.0.1 and localhost
   * (made with openssl) and returns the certificate's file, which a client
   * trusts as its CA.
   */
  async enableTls(): Promise<string> {
    const crt = join(this.#dataDir, "server.crt");
    const key = join(this.#dataDir, "server.key");
    const made = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout",
        key,
        "-out",
        crt,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!made.success) {
      throw new Error(`openssl failed: ${new TextDecoder().decode(made.stderr)}`);
    }
    await Deno.chmod(key, 0o600);
    if (isRoot()) {
      const { uid, gid } = await postgresIds();
      await Deno.chown(key, uid, gid);
      await Deno.chown(crt, uid, gid);
    }
    const ca = join(this.dir, "ca.crt");
    await Deno.copyFile(crt, ca);
    await this.psql("postgres", "ALTER SYSTEM SET ssl = on");
    await this.psql("postgres", "SELECT pg_reload_conf()");
    await until(async () => (await this.psql("postgres", "SHOW ssl")) === "on");
    return ca;
  }

  /** Stops the server (fast shutdown: sessions are ended, nothing committed is lost). */
  async stop(): Promise<void> {
    if (!this.#running) return;
    const r = await this.#run("pg_ctl", [
      "stop",
      "-D",
      this.#dataDir,
      "-m",
      "fast",
      "-w",
      "-t",
      String(STOP_WAIT_S),
    ]);
    if (r.code !== 0) throw new Error(`pg_ctl stop failed (exit ${r.code}): ${r.out}`);
    this.#running = false;
  }

  /** Stops the server and starts it again on the same port and socket. */
  async restart(): Promise<void> {
    await this.stop();
    await this.#startServer(false);
  }

  /** Starts the server; on a first start, a new port is chosen when the one picked was taken. */
  async #startServer(first: boolean): Promise<void> {
    const logFile = join(this.dir, "server.log");
    for (let tries = 0;; tries++) {
      // Another test may take the free port before the server binds it: then another is tried.
      if (first) this.port = freePort();
      const logged = (await Deno.stat(logFile).catch(() => ({ size: 0 }))).size;
      const opts = [
        "-c listen_addresses=127.0.0.1",
        `-c port=${this.port}`,
        `-c unix_socket_directories=${this.socketDir}`,
        `-c fsync=${this.#fsync ? "on" : "off"}`,
        "-c max_connections=100",
        "-c shared_buffers=16MB",
      ].join(" ");
      const r = await this.#run("pg_ctl", [
        "start",
        "-D",
        this.#dataDir,
        "-w",
        "-t",
        String(START_WAIT_S),
        "-l",
        logFile,
        "-o",
        opts,
      ]);
      if (r.code === 0) {
        this.#running = true;
        return;
      }
      // This start's lines only: pg_ctl appends to the log.
      const log = (await Deno.readTextFile(logFile).catch(() => "")).slice(logged);
      if (first && tries < 5 && /could not bind|Address already in use/i.test(log)) continue;
      throw new Error(`pg_ctl start failed (exit ${r.code}): ${r.out}\n${log.slice(-2000)}`);
    }
  }

  /** Runs one of the server's programs, as `postgres` when this process is root. */
  async #run(program: string, args: string[]): Promise<Ran> {
    const path = join(this.#bin, program);
    const [command, argv] = isRoot()
      ? ["runuser", ["-u", "postgres", "--", path, ...args]]
      : [path, args];
    const child = new Deno.Command(command, {
      args: argv,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      cwd: this.dir,
    }).spawn();
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }, COMMAND_WAIT_MS);
    try {
      const out = await child.output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      return { code: out.code, out: text };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Writes a file in the data folder, owned by the server's user. */
  async #writeOwned(path: string, text: string): Promise<void> {
    await Deno.writeTextFile(path, text, { mode: 0o600 });
    if (isRoot()) {
      const { uid, gid } = await postgresIds();
      await Deno.chown(path, uid, gid);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.stop();
    } catch {
      // Stopping failed (the server is gone, or hangs): kill what is left by its pid file.
      await this.#killByPidFile();
    }
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    live.delete(this);
  }

  /**
   * Kills the server and removes its folder at once, synchronously: for an
   * `unload` handler, when a test run ends without the asynchronous stop.
   */
  killNow(): void {
    live.delete(this);
    try {
      const pid = Number(
        Deno.readTextFileSync(join(this.#dataDir, "postmaster.pid")).split("\n")[0],
      );
      if (Number.isSafeInteger(pid) && pid > 1) Deno.kill(pid, "SIGQUIT");
    } catch {
      // No pid file: nothing runs.
    }
    this.#running = false;
    try {
      Deno.removeSync(this.dir, { recursive: true });
    } catch {
      // Already removed.
    }
  }

  async #killByPidFile(): Promise<void> {
    try {
      const pid = Number(
        (await Deno.readTextFile(join(this.#dataDir, "postmaster.pid")))
          .split("\n")[0],
      );
      if (Number.isSafeInteger(pid) && pid > 1) Deno.kill(pid, "SIGKILL");
    } catch {
      // No pid file: nothing runs.
    }
    this.#running = false;
  }
}
