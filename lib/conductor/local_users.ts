/**
 * Names of local users and their groups, from the account databases
 * (`/etc/passwd`, `/etc/group`; read again when they change), without
 * running a command. Users known only to a directory service (NSS) are
 * named `uid:N`, and are in no group but their primary one.
 *
 * @module
 */

import {
  ACCOUNT_FILES,
  type AccountFiles,
  parseGroup,
  parsePasswd,
  readAccountFile,
} from "../exec/accounts.ts";

/** A local user as grants see it. */
export interface LocalUser {
  /** The user's name, or `uid:N`. */
  name: string;
  /** Names (or `gid:N`) of its primary group and every group that lists it. */
  groups: string[];
}

interface Accounts {
  users: Map<number, { name: string; gid: number }>;
  groups: ReturnType<typeof parseGroup>;
  stamp: string;
}

/** Reads user and group names; cheap to call per request. */
export class LocalUsers {
  readonly #files: AccountFiles;
  #accounts: Accounts | null = null;

  constructor(files: AccountFiles = ACCOUNT_FILES) {
    this.#files = files;
  }

  /** The user with `uid`, whose proof was made with primary group `gid`. */
  async lookup(uid: number, gid: number): Promise<LocalUser> {
    const a = await this.#load();
    const entry = a.users.get(uid);
    const name = entry?.name ?? `uid:${uid}`;
    const groups = new Set<string>();
    for (const g of [entry?.gid ?? gid, gid]) {
      groups.add(a.groups.find((e) => e.gid === g)?.name ?? `gid:${g}`);
    }
    if (entry) { for (const g of a.groups) if (g.members.includes(name)) groups.add(g.name); }
    return { name, groups: [...groups] };
  }

  /** The name of the user with `uid`, or `uid:N`. */
  async nameOf(uid: number): Promise<string> {
    return (await this.#load()).users.get(uid)?.name ?? `uid:${uid}`;
  }

  async #load(): Promise<Accounts> {
    const stamp = await stampOf(this.#files.passwd, this.#files.group);
    if (this.#accounts && this.#accounts.stamp === stamp) return this.#accounts;
    const users = new Map<number, { name: string; gid: number }>();
    for (const u of parsePasswd(readOrEmpty(this.#files.passwd))) {
      if (!users.has(u.uid)) users.set(u.uid, u);
    }
    this.#accounts = { users, groups: parseGroup(readOrEmpty(this.#files.group)), stamp };
    return this.#accounts;
  }
}

function readOrEmpty(path: string): string {
  try {
    return readAccountFile(path) ?? "";
  } catch {
    return "";
  }
}

/** What changes when a file is rewritten. */
async function stampOf(...paths: string[]): Promise<string> {
  const parts: string[] = [];
  for (const p of paths) {
    try {
      const i = await Deno.stat(p);
      parts.push(`${i.ino}:${i.size}:${i.mtime?.getTime()}`);
    } catch {
      parts.push("-");
    }
  }
  return parts.join("|");
}
