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
): number | null {
  if (group === null) return null;
  if (/^\d{1,10}$/.test(group)) return Number(group);
  const entry = parseGroup(readAccountFile(groupFile) ?? "").find((g) => g.name === group);
  if (!entry) {
    throw new OrchError("config", `${key}: no group ${JSON.stringify(group)} in ${groupFile}`, {
      hint: `name a group of this host (getent group), give its number, or set ${key} to "" to ` +
        "leave the conductor's group",
    });
  }
  return entry.gid;
}
