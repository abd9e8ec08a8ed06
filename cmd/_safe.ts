/**
 * Text a user, a player or a score supplied, made safe to print in a
 * terminal.
 *
 * @module
 */

const UNSAFE =
  // deno-lint-ignore no-control-regex -- control characters are what this finds
  /[\x00-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]/g;

/**
 * `text` made safe for a terminal: every control character (C0 — escape
 * sequences, carriage returns, newlines, tabs —, DEL, C1), bidirectional
 * marks and overrides, and invisible separators are written as `\xHH` /
 * `\uHHHH`. Multi-line text (an output tail) is split into lines first and
 * each line made safe.
 */
export function safe(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
