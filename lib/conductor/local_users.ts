/**
 * Names of local users and their groups, from `/etc/passwd` and
 * `/etc/group` (read again when they change), without running a command.
 * Users known only to a directory service (NSS) are named `uid:N`, and
 * are in no group but their primary one.
 *
 * @module
 */

/** A local user as grants see it. */
export interface LocalUser {
  /** The user's name, or `uid:N`. */
  name: string;
  /** Names (or `gid:N`) of its primary group and every group that lists it. */
  groups: string[];
}

interface Files {
  passwd: Map<number, { name: string; gid: number }>;
  groups: Map<number, { name: string; members: string[] }>;
  stamp: string;
}

/** Reads user and group names; cheap to call per request. */
export class LocalUsers {
  readonly #passwd: string;
  readonly #group: string;
  #files: Files | null = null;

  constructor(passwd = "/etc/passwd", group = "/etc/group") {
    this.#passwd = passwd;
    this.#group = group;
  }

  /** The user with `uid`, whose proof was made with primary group `gid`. */
  async lookup(uid: number, gid: number): Promise<LocalUser> {
    const f = await this.#load();
    const entry = f.passwd.get(uid);
    const name = entry?.name ?? `uid:${uid}`;
    const groups = new Set<string>();
    for (const g of [entry?.gid ?? gid, gid]) groups.add(f.groups.get(g)?.name ?? `gid:${g}`);
    if (entry) {
      for (const g of f.groups.values()) if (g.members.includes(name)) groups.add(g.name);
    }
    return { name, groups: [...groups] };
  }

  /** The name of the user with `uid`, or `uid:N`. */
  async nameOf(uid: number): Promise<string> {
    return (await this.#load()).passwd.get(uid)?.name ?? `uid:${uid}`;
  }

  async #load(): Promise<Files> {
    const stamp = await stampOf(this.#passwd, this.#group);
    if (this.#files && this.#files.stamp === stamp) return this.#files;
    const passwd = new Map<number, { name: string; gid: number }>();
    for (const f of fields(await readOrEmpty(this.#passwd))) {
      const uid = Number(f[2]);
      if (f.length >= 4 && Number.isSafeInteger(uid) && !passwd.has(uid)) {
        passwd.set(uid, { name: f[0], gid: Number(f[3]) });
      }
    }
    const groups = new Map<number, { name: string; members: string[] }>();
    for (const f of fields(await readOrEmpty(this.#group))) {
      const gid = Number(f[2]);
      if (f.length >= 3 && Number.isSafeInteger(gid) && !groups.has(gid)) {
        groups.set(gid, { name: f[0], members: (f[3] ?? "").split(",").filter((m) => m) });
      }
    }
    this.#files = { passwd, groups, stamp };
    return this.#files;
  }
}

/** The colon-separated fields of each line that is not a comment. */
function fields(text: string): string[][] {
  return text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(":"));
}

async function readOrEmpty(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

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
