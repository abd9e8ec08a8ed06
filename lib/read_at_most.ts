/**
 * Reading a file no further than a bound: what every reader of a small file
 * a user points orch at (a config file, a PEM, a facts file) needs, so that
 * a huge file costs no more than the bound.
 *
 * @module
 */

/**
 * The first bytes of `file`, at most `max + 1` of them: more than `max`
 * means the file is larger than the bound.
 */
export async function readAtMost(file: Deno.FsFile, max: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(max + 1);
  let off = 0;
  while (off < bytes.length) {
    const n = await file.read(bytes.subarray(off));
    if (n === null) break;
    off += n;
  }
  return bytes.subarray(0, off);
}
