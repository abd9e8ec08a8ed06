/**
 * Who a score runs as: a user (and group) named in its conf, looked up in
 * /etc/passwd and /etc/group — read directly, never through a shell or a
 * helper program. Names may also be numeric ids.
 *
 * @module
 */

/** The account a score runs as. */
export interface RunAs {
  uid: number;
  gid: number;
  /** The user's name (its id when the passwd file has no entry for it). */
  user: string;
  /** The user's home folder, for `HOME`. */
  home: string;
}

/** Where the account databases are; tests point elsewhere. */
export interface AccountFiles {
  passwd: string;
  group: string;
}

/** The host's account databases. */
export const ACCOUNT_FILES: AccountFiles = { passwd: "/etc/passwd", group: "/etc/group" };

/** Bytes read of an account database at most. */
const MAX_ACCOUNT_FILE = 16 * 1024 * 1024;

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  /** Users listed as members (not those whose primary group it is). */
  members: string[];
}

const ID = /^\d{1,10}$/;

/** The entries of a passwd file (`name:x:uid:gid:gecos:home:shell`); malformed lines are skipped. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 7 || f[0] === "" || !ID.test(f[2]) || !ID.test(f[3])) continue;
    out.push({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] || "/" });
  }
  return out;
}

/** The entries of a group file (`name:x:gid:members`); malformed lines are skipped. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 3 || f[0] === "" || !ID.test(f[2])) continue;
    out.push({ name: f[0], gid: Number(f[2]), members: (f[3] ?? "").split(",").filter((m) => m) });
  }
  return out;
}

/** A file's text, or null when it does not exist; throws when it cannot be read or is too large. */
export function readAccountFile(path: string): string | null {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  if (info.size > MAX_ACCOUNT_FILE) throw new Error(`${path} is larger than ${MAX_ACCOUNT_FILE}`);
  return Deno.readTextFileSync(path);
}

/**
 * The account for `user` and `group` (names or numeric ids; `group` null
 * for the user's primary group), or a sentence saying why there is none.
 * A numeric user id with no passwd entry is taken as it is when a group is
 * given too.
 */
export function resolveAccount(
  user: string,
  group: string | null,
  files: AccountFiles = ACCOUNT_FILES,
): RunAs | string {
  let passwd: string | null;
  let groups: string | null;
  try {
    passwd = readAccountFile(files.passwd);
    groups = group === null || ID.test(group) ? "" : readAccountFile(files.group);
  } catch (err) {
    return `cannot read the account databases: ${(err as Error).message}`;
  }
  const users = passwd === null ? [] : parsePasswd(passwd);
  const entry = ID.test(user)
    ? users.find((u) => u.uid === Number(user))
    : users.find((u) => u.name === user);
  let account: RunAs;
  if (entry) account = { uid: entry.uid, gid: entry.gid, user: entry.name, home: entry.home };
  else if (ID.test(user) && group !== null) {
    account = { uid: Number(user), gid: -1, user, home: "/" };
  } else {
    return passwd === null
      ? `user ${JSON.stringify(user)} cannot be looked up: ${files.passwd} does not exist`
      : `no user ${JSON.stringify(user)} in ${files.passwd}`;
  }
  if (group !== null) {
    if (ID.test(group)) account.gid = Number(group);
    else {
      const g = groups === null ? undefined : parseGroup(groups).find((e) => e.name === group);
      if (!g) {
        return groups === null
          ? `group ${JSON.stringify(group)} cannot be looked up: ${files.group} does not exist`
          : `no group ${JSON.stringify(group)} in ${files.group}`;
      }
      account.gid = g.gid;
    }
  }
  return account;
}

/**
 * What `orch score lint` says about a conf's `user` and `group` on this
 * host: why they cannot be resolved, or undefined when they can — or when
 * this host has no passwd file to tell (the player then refuses at run time).
 */
export function accountProblem(
  user: string,
  group: string | null,
  files: AccountFiles = ACCOUNT_FILES,
): string | undefined {
  try {
    Deno.statSync(files.passwd);
  } catch {
    return undefined;
  }
  const r = resolveAccount(user, group, files);
  return typeof r === "string" ? r : undefined;
}

/** The name of the user with id `uid`, or the id itself when the passwd file does not say. */
export function userName(uid: number, files: AccountFiles = ACCOUNT_FILES): string {
  try {
    const text = readAccountFile(files.passwd);
    const entry = text === null ? undefined : parsePasswd(text).find((u) => u.uid === uid);
    return entry?.name ?? String(uid);
  } catch {
    return String(uid);
  }
}
