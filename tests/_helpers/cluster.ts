/**
 * A real deployment for tests (and the demo): a CA made by `orch ca`, a
 * conductor and players as separate `orch` processes on loopback, a real
 * SQLite file, real scores, all in a temp dir removed afterwards.
 *
 * @example
 * ```ts
 * await using c = await Cluster.create({ players: ["p1", "p2"] });
 * await c.startConductor();
 * await c.startPlayer("p1");
 * const id = await c.client.submit({ score: "hello", scope: "all", targets: ["p1"], params: {} });
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { AudienceClient } from "../../lib/client/mod.ts";
import { makeLocalProof } from "../../lib/client/mod.ts";
import type { JobViewJson, SubmitInput, TaskDetailJson } from "../../lib/protocol/mod.ts";
import { loadTlsMaterial, type TlsMaterial } from "../../lib/tls/mod.ts";
import { answerCheck, eventCheck, openApiChecker } from "./openapi.ts";
import { orch, Proc, ROOT, until } from "./proc.ts";

/** What to make. */
export interface ClusterOptions {
  /** Players to issue certificates for and list in the players file. */
  players: string[];
  /** Names in the players file, when not `players`. */
  listed?: string[];
  /** Scores directory for every player (default: the repository's scores/). */
  scoresDir?: string;
  /** Heartbeat for conductor and players (default 2s). */
  heartbeat?: string;
  /** Run `orch` from this file (the bundle) instead of the source. */
  entry?: string;
  /** Keep the temp dir. */
  keep?: boolean;
  /**
   * The grants file's text; by default the audience certificate `alice` and
   * local root may do everything. `null` writes no file (the built-in grants).
   */
  grants?: string | null;
}

/** The grants a test cluster gets unless it says otherwise. */
export const OPEN_GRANTS = `grants:
  - who: [audience:alice, local:root]
    may: [all]
`;

/** A job's summary with every one of its tasks, each with its output tails and attempts. */
export type FullJob = JobViewJson & { tasks: TaskDetailJson[] };

/** Where a started conductor listens. */
export interface ConductorInfo {
  proc: Proc;
  playersPort: number;
  audiencePort: number;
}

/** A throwaway deployment. */
export class Cluster implements AsyncDisposable {
  readonly dir: string;
  readonly caDir: string;
  readonly opts: ClusterOptions;
  readonly procs = new Set<Proc>();
  conductor: ConductorInfo | null = null;
  readonly players = new Map<string, Proc>();
  /** Players port: chosen once, so a restarted conductor is found by its players. */
  playersPort = 0;
  audiencePort = 0;
  /** A conductor was started once: its database exists. */
  #conductorStarted = false;

  private constructor(dir: string, opts: ClusterOptions) {
    this.dir = dir;
    this.caDir = join(dir, "ca");
    this.opts = opts;
  }

  /** Makes the CA, certificates for the conductor, every player and an audience member, and the players file. */
  static async create(opts: ClusterOptions): Promise<Cluster> {
    const dir = await Deno.makeTempDir({ prefix: "orch-test-" });
    const c = new Cluster(dir, opts);
    await c.orchOk(["ca", "init", c.caDir]);
    await Promise.all([
      c.orchOk([
        "ca",
        "issue",
        "conductor",
        "--role",
        "conductor",
        "--san",
        "localhost",
        "--san",
        "127.0.0.1",
        "--ca-dir",
        c.caDir,
      ]),
      c.orchOk(["ca", "issue", "alice", "--role", "audience", "--ca-dir", c.caDir]),
      ...opts.players.map((p) =>
        c.orchOk(["ca", "issue", p, "--role", "player", "--ca-dir", c.caDir])
      ),
    ]);
    await c.writePlayersFile(opts.listed ?? opts.players);
    const grants = opts.grants === undefined ? OPEN_GRANTS : opts.grants;
    if (grants !== null) await c.writeGrants(grants);
    return c;
  }

  /** Path of the grants file. */
  get grantsFile(): string {
    return join(this.dir, "grants.yaml");
  }

  /** Rewrites the grants file (a running conductor reads it on SIGHUP). */
  async writeGrants(text: string): Promise<void> {
    await Deno.writeTextFile(this.grantsFile, text);
  }

  /** Runs `orch` and throws unless it exits 0. */
  async orchOk(args: string[]): Promise<string> {
    const r = await orch(args, { entry: this.opts.entry });
    if (r.code !== 0) throw new Error(`orch ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  /** Runs `orch` with the audience socket set. */
  cli(args: string[]) {
    return orch(args, { entry: this.opts.entry, env: { ORCH_SOCKET: this.socket } });
  }

  /** Path of the players file. */
  get playersFile(): string {
    return join(this.dir, "players");
  }

  /** Rewrites the players file. */
  async writePlayersFile(names: string[]): Promise<void> {
    await Deno.writeTextFile(this.playersFile, `# players for this test\n${names.join("\n")}\n`);
  }

  get socket(): string {
    return join(this.dir, "audience.sock");
  }

  get db(): string {
    return join(this.dir, "conductor.db");
  }

  /**
   * A raw request to the audience API on the Unix socket, with a proof of
   * this process's user (as the orch command makes one); `proof: false`
   * sends none.
   */
  async socketFetch(
    path: string,
    init: RequestInit & { proof?: boolean } = {},
  ): Promise<Response> {
    const proof = init.proof === false ? null : await makeLocalProof(this.socket);
    const headers = new Headers(init.headers);
    if (proof) headers.set("authorization", proof.header);
    const client = Deno.createHttpClient({ proxy: { transport: "unix", path: this.socket } });
    try {
      const res = await fetch(`http://orch${path}`, { ...init, headers, client });
      const body = new Uint8Array(await res.arrayBuffer());
      checkAnswer(init.method ?? "GET", path, res, body);
      return new Response(body, { status: res.status, headers: res.headers });
    } finally {
      client.close();
      await proof?.discard();
    }
  }

  /** Issues an audience certificate for `name` from the cluster's CA. */
  async issueAudience(name: string): Promise<void> {
    await this.orchOk(["ca", "issue", name, "--role", "audience", "--ca-dir", this.caDir]);
  }

  /** The CA, certificate and key of the audience member `name` (see {@linkcode issueAudience}). */
  audienceTls(name: string): Promise<TlsMaterial> {
    return loadTlsMaterial(
      {
        ca: join(this.caDir, "ca.crt"),
        cert: join(this.caDir, `${name}.crt`),
        key: join(this.caDir, `${name}.key`),
      },
      "audience",
      new Date(),
    );
  }

  /** A client over HTTPS with the audience certificate of `name` (see {@linkcode issueAudience}). */
  async httpsClient(name: string): Promise<AudienceClient> {
    const tls = await this.audienceTls(name);
    return new AudienceClient(
      {
        kind: "https",
        host: "127.0.0.1",
        port: this.audiencePort,
        tls,
        expectName: "localhost",
      },
      answerCheck,
      eventCheck,
    );
  }

  /** Flags that make an audience command use HTTPS with the certificate of `name`. */
  httpsFlags(name: string): string[] {
    return this.#dialFlags(this.audiencePort, name);
  }

  /** Flags to reach the conductor on `port` of loopback with the certificate of `name`. */
  #dialFlags(port: number, name: string): string[] {
    return [
      "--conductor",
      `127.0.0.1:${port}`,
      "--conductor-name",
      "localhost",
      "--ca",
      join(this.caDir, "ca.crt"),
      "--cert",
      join(this.caDir, `${name}.crt`),
      "--key",
      join(this.caDir, `${name}.key`),
    ];
  }

  /** A client over the Unix socket. */
  get client(): AudienceClient {
    return new AudienceClient(
      { kind: "socket", path: this.socket },
      answerCheck,
      eventCheck,
    );
  }

  /**
   * The conductor's store as `--store` takes it (a PostgreSQL URL), or null
   * for the cluster's own SQLite file (`--db`).
   */
  store: string | null = null;

  /** Flags for the conductor. */
  conductorArgs(extra: string[] = []): string[] {
    return [
      "conductor",
      "--listen",
      `127.0.0.1:${this.playersPort}`,
      "--audience-listen",
      `127.0.0.1:${this.audiencePort}`,
      "--audience-socket",
      this.socket,
      ...(this.store === null ? ["--db", this.db] : ["--store", this.store]),
      "--players-file",
      this.playersFile,
      "--grants",
      this.grantsFile,
      "--ca",
      join(this.caDir, "ca.crt"),
      "--cert",
      join(this.caDir, "conductor.crt"),
      "--key",
      join(this.caDir, "conductor.key"),
      "--heartbeat",
      this.opts.heartbeat ?? "2s",
      "--log-level",
      "debug",
      ...extra,
    ];
  }

  /**
   * Starts the conductor and waits until it listens. The first start of a
   * cluster passes `--init` (it creates the database), later ones do not;
   * `init` says otherwise. `wrap` runs it under another command.
   */
  async startConductor(
    extra: string[] = [],
    opts: { init?: boolean; wrap?: string[]; env?: Record<string, string> } = {},
  ): Promise<ConductorInfo> {
    const init = opts.init ?? !this.#conductorStarted;
    this.#conductorStarted = true;
    const proc = this.track(
      new Proc("conductor", this.conductorArgs([...(init ? ["--init"] : []), ...extra]), {
        entry: this.opts.entry,
        wrap: opts.wrap,
        env: opts.env,
      }),
    );
    const m = await proc.waitFor(/conductor ready players=[^ ]*:(\d+) audience=[^ ]*:(\d+)/);
    this.playersPort = Number(m[1]);
    this.audiencePort = Number(m[2]);
    this.conductor = { proc, playersPort: this.playersPort, audiencePort: this.audiencePort };
    return this.conductor;
  }

  /** Flags for player `name`. */
  playerArgs(name: string, extra: string[] = []): string[] {
    return [
      "player",
      "--name",
      name,
      ...this.#dialFlags(this.playersPort, name),
      "--scores-dir",
      this.opts.scoresDir ?? join(ROOT, "scores"),
      "--state-dir",
      join(this.dir, `state-${name}`),
      "--heartbeat",
      this.opts.heartbeat ?? "2s",
      "--reconnect-max",
      "1s",
      "--kill-grace",
      "1s",
      "--stop-grace",
      "1s",
      "--log-level",
      "debug",
      ...extra,
    ];
  }

  /** Starts player `name`; with `wait` (default), until the conductor lists it as connected and ready. */
  async startPlayer(
    name: string,
    opts: { extra?: string[]; wait?: boolean; env?: Record<string, string>; wrap?: string[] } = {},
  ): Promise<Proc> {
    const proc = this.track(
      new Proc(name, this.playerArgs(name, opts.extra), {
        entry: this.opts.entry,
        env: opts.env,
        wrap: opts.wrap,
      }),
    );
    this.players.set(name, proc);
    if (opts.wait ?? true) await this.waitConnected(name);
    return proc;
  }

  /** Waits until the conductor shows `name` connected with free slots. */
  async waitConnected(name: string): Promise<void> {
    await until(`${name} connected`, async () => {
      const players = await this.client.players();
      return players.some((p) => p.name === name && p.connected && p.slots > 0);
    });
  }

  /** Keeps `proc` to be stopped at the end. */
  track(proc: Proc): Proc {
    this.procs.add(proc);
    proc.exited.then(() => this.procs.delete(proc));
    return proc;
  }

  /** Submits a job and waits until its first task is running; resolves with the job id. */
  async submitRunning(req: SubmitInput): Promise<number> {
    const id = await this.client.submit(req);
    await until(
      `job ${id} running`,
      async () => (await this.job(id)).tasks[0].state === "running",
    );
    return id;
  }

  /** Job `id` as it is now: its summary and every task with output, page by page. */
  async job(id: number): Promise<FullJob> {
    const job = await this.client.job(id);
    return { ...job, tasks: await this.client.allTasks(id, { output: true }) };
  }

  /** Waits for job `id` to finish (long poll), failing after `timeoutMs`; resolves with it whole. */
  async wait(id: number, timeoutMs = 20_000): Promise<FullJob> {
    const job = await this.client.waitJob(id, { timeoutMs });
    if (job.finished_at === null) {
      throw new Error(`job ${id} did not finish within ${timeoutMs}ms: ${JSON.stringify(job)}`);
    }
    return { ...job, tasks: await this.client.allTasks(id, { output: true }) };
  }

  /** Stops every process and removes the temp dir. */
  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all([...this.procs].map((p) => p.stop(3000)));
    if (!this.opts.keep) await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Checks a raw answer against the API's description (see `openapi.ts`);
 * throws naming the path, status and what does not match.
 */
export function checkAnswer(method: string, path: string, res: Response, body: Uint8Array): void {
  const contentType = res.headers.get("content-type") ?? "";
  let parsed: unknown = undefined;
  if (/^application\/json\b/i.test(contentType)) {
    try {
      parsed = JSON.parse(new TextDecoder().decode(body));
    } catch {
      throw new Error(`${method} ${path} answered ${res.status} with a JSON type but no JSON body`);
    }
  }
  openApiChecker.check({
    method: method.toUpperCase(),
    path,
    status: res.status,
    contentType,
    body: parsed,
  });
}
