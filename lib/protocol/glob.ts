/**
 * Globs over names: `*` matches any run of characters (none included), `?`
 * any one character, everything else itself. Matching is linear-time in
 * practice (one backtrack point: the last `*`), so a glob from a config
 * file or a request cannot make it slow.
 *
 * @module
 */

/** True when `glob` has a wildcard, i.e. is not a plain name. */
export function isGlob(glob: string): boolean {
  return glob.includes("*") || glob.includes("?");
}

/** True when the whole of `name` matches `glob`. */
export function globMatch(glob: string, name: string): boolean {
  let g = 0;
  let n = 0;
  let star = -1;
  let resume = 0;
  while (n < name.length) {
    if (g < glob.length && (glob[g] === "?" || (glob[g] !== "*" && glob[g] === name[n]))) {
      g++;
      n++;
    } else if (g < glob.length && glob[g] === "*") {
      star = g++;
      resume = n;
    } else if (star >= 0) {
      g = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (g < glob.length && glob[g] === "*") g++;
  return g === glob.length;
}
