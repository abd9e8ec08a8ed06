/**
 * The group of a conductor's Unix socket: a name in /etc/group or a number,
 * resolved once when the socket is made, with an error naming the key when
 * there is no such group.
 *
 * @module
 */

import { OrchError } from "../errors.ts";
import { ACCOUNT_FILES, parseGroup, readAccountFile } from "../exec/accounts.ts";

/**
 * The gid of `group` (a name in the group file, or a number); null for null.
 * Throws `OrchError("config")` naming `key` when no group has that name.
 */
export function socketGroupId(
  key: string,
  group: string | null,
  groupFile: string = ACCOUNT_FILES.group,
  held: () => number[] | null = processGroups,
): number | null {
  if (group === null) return null;
  let gid: number;
  if (/^\d{1,10}$/.test(group)) {
    gid = Number(group);
  } else {
    const entry = parseGroup(readAccountFile(groupFile) ?? "").find((g) => g.name === group);
    if (!entry) {
      throw new OrchError("config", `${key}: no group ${JSON.stringify(group)} in ${groupFile}`, {
        hint: `name a group of this host (getent group), give its number, or set ${key} to "" ` +
          "to leave the conductor's group",
      });
    }
    gid = entry.gid;
  }
  // Only root may give a file a group it is not in: say so now, not as EPERM at the socket.
  const groups = held();
  if (groups !== null && !groups.includes(gid)) {
    throw new OrchError(
      "config",
      `${key}: the conductor runs as a user that is not in group ${group}, so it cannot give ` +
        "the socket that group",
      {
        hint: `add the conductor's user to ${group} (under systemd: SupplementaryGroups=${group} ` +
          `in the unit, with systemctl edit orch-conductor), or set ${key} to "" to leave its group`,
      },
    );
  }
  return gid;
}

/**
 * The groups this process holds (its group and supplementary groups, from
 * /proc/self/status); null when it may give a file any group (root) or
 * when that cannot be read (not Linux).
 */
export function processGroups(): number[] | null {
  if (Deno.uid() === 0) return null;
  let status: string;
  try {
    status = Deno.readTextFileSync("/proc/self/status");
  } catch {
    return null;
  }
  const ids = (field: string) =>
    (new RegExp(`^${field}:\\s*(.*)$`, "m").exec(status)?.[1] ?? "").trim().split(/\s+/)
      .filter((x) => /^\d+$/.test(x)).map(Number);
  return [...ids("Gid"), ...ids("Groups")];
}
