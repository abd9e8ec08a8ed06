/**
 * Stores for in-process conductor tests: a wrapper whose commits can be
 * held back or made to fail, around a real store or an empty one.
 *
 * @module
 */

import {
  type ConductorStore,
  emptySnapshot,
  type StoreSnapshot,
  type WriteTx,
} from "../../lib/store/mod.ts";

/** A store with nothing in it whose writes go nowhere; views are not available. */
export class EmptyStore implements ConductorStore {
  load(): Promise<StoreSnapshot> {
    return Promise.resolve(emptySnapshot());
  }
  write(fn: (tx: WriteTx) => void): Promise<void> {
    const nothing = () => {};
    fn({
      setConductorId: nothing,
      insertJob: nothing,
      saveTasks: nothing,
      addAttempts: nothing,
      finishJobs: nothing,
      cancelJob: nothing,
      savePlayers: nothing,
      touchPlayers: nothing,
      setDrained: nothing,
      addAudit: nothing,
      addSchedule: nothing,
      removeSchedule: nothing,
      markScheduleDue: nothing,
      pruneFinished: (_req, done) => done({ jobs: 0, tasks: 0, audit: 0, more: false }),
    });
    return Promise.resolve();
  }
  jobIdByRequest(): Promise<number | undefined> {
    return Promise.resolve(undefined);
  }
  jobByRequest(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  job(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  tasks(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  task(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  jobs(): Promise<[]> {
    return Promise.resolve([]);
  }
  jobAccess(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  audit(): Promise<[]> {
    return Promise.resolve([]);
  }
  schedules(): Promise<[]> {
    return Promise.resolve([]);
  }
  prunable(): Promise<{ jobs: number; tasks: number }> {
    return Promise.resolve({ jobs: 0, tasks: 0 });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Wraps a store: commits can be held back ({@linkcode hold}) and made to
 * fail ({@linkcode failWrites}); every commit's outcome is logged in
 * {@linkcode log} in the order it happened.
 */
export class ControlledStore implements ConductorStore {
  readonly #inner: ConductorStore;
  #held: Promise<void> | null = null;
  #failure: Error | null = null;
  /** `commit N` / `failed N`, in order. */
  readonly log: string[] = [];
  #n = 0;

  constructor(inner: ConductorStore = new EmptyStore()) {
    this.#inner = inner;
  }

  /** Holds every commit from now until the returned function is called. */
  hold(): () => void {
    let release = () => {};
    this.#held = new Promise<void>((r) => (release = r));
    return () => {
      this.#held = null;
      release();
    };
  }

  /** Makes every commit from now on fail with `err`. */
  failWrites(err: Error): void {
    this.#failure = err;
  }

  load(): Promise<StoreSnapshot> {
    return this.#inner.load();
  }
  async write(fn: (tx: WriteTx) => void): Promise<void> {
    const n = ++this.#n;
    while (this.#held) await this.#held;
    if (this.#failure) {
      this.log.push(`failed ${n}`);
      throw this.#failure;
    }
    await this.#inner.write(fn);
    this.log.push(`commit ${n}`);
  }
  jobIdByRequest(id: string) {
    return this.#inner.jobIdByRequest(id);
  }
  jobByRequest(id: string) {
    return this.#inner.jobByRequest(id);
  }
  job(id: number) {
    return this.#inner.job(id);
  }
  tasks(id: number, q: Parameters<ConductorStore["tasks"]>[1]) {
    return this.#inner.tasks(id, q);
  }
  task(id: number, t: number) {
    return this.#inner.task(id, t);
  }
  jobs(q: Parameters<ConductorStore["jobs"]>[0]) {
    return this.#inner.jobs(q);
  }
  jobAccess(id: number) {
    return this.#inner.jobAccess(id);
  }
  audit(q: Parameters<ConductorStore["audit"]>[0]) {
    return this.#inner.audit(q);
  }
  schedules() {
    return this.#inner.schedules();
  }
  prunable(before: number) {
    return this.#inner.prunable(before);
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}
