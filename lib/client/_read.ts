/**
 * Reading a small file the client is pointed at (its config file, a PEM):
 * a regular file (looked at before it is opened, so that a FIFO or a
 * device never blocks or floods a command), of at most `max` bytes, read
 * no further than that.
 *
 * @module
 */

import { readAtMost } from "../read_at_most.ts";

/** Why a small file cannot be read, in words for a message. */
export class SmallFileError extends Error {}

/** The text of the regular file `path` of at most `max` bytes; Deno's errors for open/stat. */
export async function readSmallFile(path: string, max: number): Promise<string> {
  const info = await Deno.stat(path);
  if (!info.isFile) throw new SmallFileError(info.isDirectory ? "is a directory" : "is not a file");
  if (info.size > max) throw new SmallFileError(`is larger than ${max} bytes`);
  const file = await Deno.open(path, { read: true });
  try {
    const bytes = await readAtMost(file, max);
    if (bytes.length > max) throw new SmallFileError(`is larger than ${max} bytes`);
    return new TextDecoder().decode(bytes);
  } finally {
    file.close();
  }
}
