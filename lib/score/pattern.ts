/**
 * Parameter patterns: the regular expression a score's conf may give a
 * string parameter, which its player announces and the conductor checks
 * values against. Patterns come from other hosts, so they are matched by a
 * linear-time engine (RE2 syntax: no backreferences, no lookarounds), their
 * size is bounded before anything is compiled, and each is compiled once.
 * A pattern always matches the whole value, as if written `^(?:p)$`.
 *
 * @module
 */

import { RE2JS } from "re2js";
import { clip, printable } from "../protocol/validate.ts";

/** Longest pattern source, in characters (the protocol bounds it at 1000 bytes too). */
export const MAX_PATTERN_LENGTH = 1000;

/**
 * Largest size of a pattern, counted the way RE2 counts the program it
 * compiles to (about one unit per character matched, repetitions
 * expanded): `[a-z0-9-]{1,63}` is about 125. It bounds the time to compile
 * a pattern and to match a value against it.
 */
export const MAX_PATTERN_SIZE = 10_000;

/** Compiled patterns (and problems) kept, by source. */
const CACHE_ENTRIES = 512;

/** A compiled pattern. */
export class Pattern {
  /** The pattern as written. */
  readonly source: string;
  readonly #re: RE2JS;

  constructor(source: string, re: RE2JS) {
    this.source = source;
    this.#re = re;
  }

  /** True when the whole of `value` matches. Linear in the length of `value`. */
  test(value: string): boolean {
    return this.#re.testExact(value);
  }
}

const cache = new Map<string, Pattern | SyntaxError>();

/**
 * Compiles `source` (or takes it from a bounded cache).
 *
 * @throws {SyntaxError} saying what is wrong: too long, too large, a
 * feature RE2 does not support (and which), or the syntax error.
 * @example
 * ```ts
 * compilePattern("[a-z]+").test("abc"); // true
 * compilePattern("[a-z]+").test("abc1"); // false: the whole value must match
 * ```
 */
export function compilePattern(source: string): Pattern {
  let entry = cache.get(source);
  if (entry !== undefined) {
    // Most recently used last, so that the oldest is evicted first.
    cache.delete(source);
  } else {
    entry = build(source);
    if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  }
  cache.set(source, entry);
  if (entry instanceof SyntaxError) throw entry;
  return entry;
}

/** What is wrong with `source` as a pattern, or undefined when it compiles. */
export function patternProblem(source: string): string | undefined {
  try {
    compilePattern(source);
    return undefined;
  } catch (err) {
    if (err instanceof SyntaxError) return err.message;
    throw err;
  }
}

function build(source: string): Pattern | SyntaxError {
  if (source.length > MAX_PATTERN_LENGTH) {
    return new SyntaxError(
      `is ${source.length} characters long; at most ${MAX_PATTERN_LENGTH} are allowed`,
    );
  }
  const unsupported = unsupportedFeature(source);
  if (unsupported) {
    return new SyntaxError(
      `uses ${unsupported}, a feature that is not supported: patterns are RE2 syntax, ` +
        "matched in linear time (no backreferences, lookahead or lookbehind)",
    );
  }
  const size = patternSize(source);
  if (size > MAX_PATTERN_SIZE) {
    return new SyntaxError(
      `is too large (size about ${size}, at most ${MAX_PATTERN_SIZE}); use smaller repetition counts`,
    );
  }
  try {
    // Compiled alone first, so that `a)|(b` cannot escape the anchoring group below.
    RE2JS.compile(source);
    return new Pattern(source, RE2JS.compile(`(?:${source})`));
  } catch (err) {
    const why = (err as Error).message.replace(/^error parsing regexp: /, "");
    return new SyntaxError(`is not a valid regular expression: ${printable(clip(why, 200))}`);
  }
}

/**
 * The first construct in `source` that RE2 refuses because it cannot be
 * matched in linear time, described for a person; undefined when none.
 */
function unsupportedFeature(source: string): string | undefined {
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "\\") {
      const n = source[i + 1] ?? "";
      if (/[1-9]/.test(n)) return `a backreference (\\${n})`;
      if (n === "k" && source[i + 2] === "<") return "a named backreference (\\k<…>)";
      if (n === "Q") {
        const end = source.indexOf("\\E", i + 2);
        if (end < 0) return undefined;
        i = end + 1;
        continue;
      }
      i++;
    } else if (c === "[") {
      i = classEnd(source, i);
    } else if (c === "(" && source[i + 1] === "?") {
      const rest = source.slice(i + 2, i + 4);
      if (rest.startsWith("=")) return "a lookahead ((?=…)";
      if (rest.startsWith("!")) return "a negative lookahead ((?!…)";
      if (rest === "<=") return "a lookbehind ((?<=…)";
      if (rest === "<!") return "a negative lookbehind ((?<!…)";
      if (rest.startsWith(">")) return "an atomic group ((?>…)";
    } else if ((c === "+" || c === "*" || c === "?") && source[i + 1] === "+") {
      return `a possessive quantifier (${c}+)`;
    }
  }
  return undefined;
}

/** Index of the `]` that ends the class opened at `start` (or the last index). */
function classEnd(source: string, start: number): number {
  let i = start + 1;
  if (source[i] === "^") i++;
  if (source[i] === "]") i++;
  for (; i < source.length; i++) {
    const c = source[i];
    if (c === "\\") i++;
    else if (c === "[" && source[i + 1] === ":") {
      const end = source.indexOf(":]", i + 2);
      if (end >= 0) i = end + 1;
    } else if (c === "]") return i;
  }
  return source.length - 1;
}

/** The repetition `{m}`, `{m,}` or `{m,n}` at `i`, if any. */
const REPEAT = /^\{(\d{1,9})(?:(,)(\d{0,9}))?\}/;

/**
 * An upper estimate of RE2's size of `source` (its parser refuses sizes over
 * about 1.4 million, far more than is cheap to compile): literals and
 * classes count 1, a repetition multiplies what it repeats, groups and
 * alternations add a little. Computed from the text alone, before compiling.
 */
export function patternSize(source: string): number {
  interface Frame {
    /** Finished alternatives, summed. */
    done: number;
    alternatives: number;
    /** The alternative being read. */
    seq: number;
    /** Size of the last item, which a quantifier applies to. */
    last: number;
  }
  const stack: Frame[] = [];
  let f: Frame = { done: 0, alternatives: 1, seq: 0, last: 0 };
  const item = (n: number) => {
    f.seq += n;
    f.last = n;
  };
  const repeat = (min: number, max: number) => {
    const sub = f.last;
    const size = max === Infinity
      ? (min === 0 ? 2 + sub : 1 + min * sub)
      : Math.max(1, max * sub + (max - min));
    f.seq += size - sub;
    f.last = size;
  };
  const close = (g: Frame) => g.done + g.seq + (g.alternatives - 1);
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    switch (c) {
      case "\\": {
        const n = source[i + 1];
        if (n === "Q") {
          const end = source.indexOf("\\E", i + 2);
          const stop = end < 0 ? source.length : end;
          for (let j = i + 2; j < stop; j++) item(1);
          i = end < 0 ? source.length : end + 1;
        } else if ((n === "p" || n === "P" || n === "x") && source[i + 2] === "{") {
          const end = source.indexOf("}", i + 3);
          i = end < 0 ? source.length : end;
          item(1);
        } else {
          i += n === "p" || n === "P" ? 2 : n === "x" ? 3 : 1;
          item(1);
        }
        break;
      }
      case "[":
        i = classEnd(source, i);
        item(1);
        break;
      case "(":
        stack.push(f);
        f = { done: 0, alternatives: 1, seq: 0, last: 0 };
        break;
      case ")": {
        const size = close(f) + 2;
        f = stack.pop() ?? { done: 0, alternatives: 1, seq: 0, last: 0 };
        item(size);
        break;
      }
      case "|":
        f.done += f.seq;
        f.alternatives++;
        f.seq = 0;
        f.last = 0;
        break;
      case "*":
      case "+":
      case "?":
        repeat(c === "+" ? 1 : 0, c === "?" ? 1 : Infinity);
        if (source[i + 1] === "?") i++;
        break;
      case "{": {
        const m = REPEAT.exec(source.slice(i, i + 24));
        if (!m) {
          item(1);
          break;
        }
        const min = Number(m[1]);
        const max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
        repeat(min, Math.max(min, max));
        i += m[0].length - 1;
        if (source[i + 1] === "?") i++;
        break;
      }
      default:
        item(1);
    }
  }
  while (stack.length > 0) {
    const size = close(f) + 2;
    f = stack.pop()!;
    item(size);
  }
  return Math.max(1, close(f));
}

/** What a parameter or a response key declares, as far as {@linkcode shapeProblem} looks. */
export interface DeclaredShape {
  type: string;
  values?: string[];
  pattern?: string;
  max_length?: number;
  min?: number;
  max?: number;
}

/**
 * What is inconsistent in a declaration's shape, by the rules parameters
 * and response keys share (enum values, string-only fields, bounds in
 * order), or undefined; the rules of each kind come on top.
 */
export function shapeProblem(spec: DeclaredShape): string | undefined {
  if (spec.type === "enum" && (!spec.values || spec.values.length === 0)) {
    return "type enum needs 'values'";
  }
  if (spec.type !== "enum" && spec.values) return "'values' belongs to type enum only";
  if (spec.pattern !== undefined) {
    if (spec.type !== "string") return "'pattern' belongs to type string only";
    const problem = patternProblem(spec.pattern);
    if (problem) return `'pattern' ${problem}`;
  }
  if (spec.max_length !== undefined && spec.type !== "string") {
    return "'max_length' belongs to type string only";
  }
  if (spec.min !== undefined && spec.max !== undefined && spec.min > spec.max) {
    return "'min' is above 'max'";
  }
  return undefined;
}
