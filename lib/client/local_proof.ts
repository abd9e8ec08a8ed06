/**
 * The client's side of proving a local user on the audience socket (see
 * the conductor's `local_auth.ts`): a file of its own, made for one request.
 *
 * @module
 */

import { errorMessage, OrchError } from "../errors.ts";
import { LOCAL_AUTH_SCHEME, proofFolder } from "../protocol/mod.ts";

/**
 * Makes a proof of the current user for one request on the socket at
 * `socketPath`; returns the header value and a function that removes the
 * proof if the conductor did not. Null when the socket has no proof folder
 * (a conductor that does not ask for proofs).
 */
export async function makeLocalProof(
  socketPath: string,
): Promise<{ header: string; discard: () => Promise<void> } | null> {
  const folder = proofFolder(socketPath);
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const name = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const path = `${folder}/${name}`;
  try {
    const file = await Deno.open(path, { write: true, createNew: true, mode: 0o644 });
    try {
      await file.write(new TextEncoder().encode(name));
    } finally {
      file.close();
    }
    // Readable by the conductor whatever the umask; the name is known only to the two ends.
    await Deno.chmod(path, 0o644);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      try {
        await Deno.lstat(folder);
      } catch {
        return null;
      }
    }
    throw new OrchError(
      "unavailable",
      `cannot prove this user to the conductor: cannot create a file in ${folder}: ${
        errorMessage(err)
      }`,
      { hint: "the proof folder is writable by the users the socket's mode lets in" },
    );
  }
  return {
    header: `${LOCAL_AUTH_SCHEME} ${name}`,
    discard: () => Deno.remove(path).catch(() => {}),
  };
}
