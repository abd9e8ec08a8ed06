/**
 * Checking a score's response against the keys its conf declares, and
 * giving the values their declared types. The player checks before it
 * journals or sends a result, so that a response which breaks its
 * declaration fails the task with a reason naming the key, and what the
 * audience reads (`orch status --json`) carries numbers as numbers and
 * booleans as `true`/`false`.
 *
 * @module
 */

import { clip, describe, printable, type ResponseSpec } from "../protocol/mod.ts";
import { compilePattern, patternProblem, shapeProblem } from "./pattern.ts";

/** Problems named in full in one check; the rest are counted. */
export const MAX_RESPONSE_PROBLEMS = 5;

/** The outcome of checking a response. */
export interface ResponseCheck {
  /**
   * The response with each declared key's value in its declared type
   * where it fits; a value that does not fit, and an undeclared key, is
   * kept as the score gave it.
   */
  values: Record<string, unknown>;
  /** What breaks the declaration, each as `response key KEY: …`; empty when nothing does. */
  problems: string[];
}

/**
 * Checks `response` against `declared`. With `text`, values came as text
 * (`pipe` lines) and are converted to the declared types; otherwise (a
 * `json` score) they must already be of them. Never throws, whatever the
 * response holds.
 *
 * @example
 * ```ts
 * checkResponse({ count: { type: "int", required: true } }, { count: "3" }, true);
 * // → { values: { count: 3 }, problems: [] }
 * ```
 */
export function checkResponse(
  declared: Readonly<Record<string, ResponseSpec>>,
  response: Readonly<Record<string, unknown>>,
  text: boolean,
): ResponseCheck {
  const values: Record<string, unknown> = Object.create(null);
  const problems: string[] = [];
  const known = Object.keys(declared);
  for (const key of Object.keys(response)) {
    const value = response[key];
    values[key] = value;
    if (!Object.hasOwn(declared, key)) {
      problems.push(
        `response key ${printable(JSON.stringify(clip(key, 64)))}: not declared (declared: ${
          clip(known.join(", "), 200)
        })`,
      );
      continue;
    }
    const typed = typedValue(declared[key], value, text);
    if (typed instanceof Problem) problems.push(`response key ${key}: ${typed.message}`);
    else values[key] = typed;
  }
  for (const key of known) {
    if (declared[key].required && !Object.hasOwn(response, key)) {
      problems.push(`response key ${key}: missing, and it is required`);
    }
  }
  if (problems.length > MAX_RESPONSE_PROBLEMS) {
    const more = problems.length - MAX_RESPONSE_PROBLEMS;
    problems.splice(MAX_RESPONSE_PROBLEMS, more, `and ${more} more`);
  }
  return { values: { ...values }, problems };
}

/** Decimal integers as a pipe score prints them. */
const INT_TEXT = /^-?\d{1,16}$/;
/** Decimal numbers as a pipe score prints them (`1`, `-0.5`, `.5`, `2e3`). */
const FLOAT_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,4})?$/;
/** Longest text read as a number. */
const MAX_NUMBER_TEXT = 64;

/** Why a value does not fit its declaration. */
class Problem {
  constructor(readonly message: string) {}
}

/** `value` as `spec` types it, or what is wrong with it. */
function typedValue(spec: ResponseSpec, value: unknown, text: boolean): unknown {
  const shown = typeof value === "string"
    ? printable(JSON.stringify(clip(value, 60)))
    : describe(value);
  const fromText = text && typeof value === "string";
  switch (spec.type) {
    case "int": {
      let n: number | undefined;
      if (fromText) {
        if (INT_TEXT.test(value) && Number.isSafeInteger(Number(value))) n = Number(value);
      } else if (typeof value === "number" && Number.isSafeInteger(value)) n = value;
      if (n === undefined) return new Problem(`${shown} is not an integer`);
      return bounded(spec, n);
    }
    case "float": {
      let n: number | undefined;
      if (fromText) {
        if (value.length <= MAX_NUMBER_TEXT && FLOAT_TEXT.test(value)) n = Number(value);
      } else if (typeof value === "number") n = value;
      if (n === undefined || !Number.isFinite(n)) return new Problem(`${shown} is not a number`);
      return bounded(spec, n);
    }
    case "bool":
      if (fromText) {
        if (value === "true") return true;
        if (value === "false") return false;
      } else if (typeof value === "boolean") return value;
      return new Problem(`${shown} is not true or false`);
    case "enum":
      if (typeof value === "string" && (spec.values ?? []).includes(value)) return value;
      return new Problem(`${shown} is not one of ${clip((spec.values ?? []).join(", "), 200)}`);
    case "string": {
      if (typeof value !== "string") return new Problem(`${shown} is not a string`);
      if (spec.max_length !== undefined && [...value].length > spec.max_length) {
        return new Problem(`is longer than ${spec.max_length} characters`);
      }
      if (spec.pattern !== undefined) {
        const pattern = printable(JSON.stringify(clip(spec.pattern, 200)));
        // The conf was checked when it was read; a pattern that still cannot compile says so.
        const bad = patternProblem(spec.pattern);
        if (bad !== undefined) return new Problem(`cannot be checked: the pattern ${bad}`);
        if (!compilePattern(spec.pattern).test(value)) {
          return new Problem(`${shown} does not match the pattern ${pattern}`);
        }
      }
      return value;
    }
    default:
      return new Problem(`cannot be checked: unknown type ${describe(spec.type)}`);
  }
}

function bounded(spec: ResponseSpec, n: number): number | Problem {
  if (spec.min !== undefined && n < spec.min) {
    return new Problem(`${n} is below the minimum ${spec.min}`);
  }
  if (spec.max !== undefined && n > spec.max) {
    return new Problem(`${n} is above the maximum ${spec.max}`);
  }
  return n;
}

/** What is inconsistent in a response key's declaration, or undefined. */
export function checkResponseSpec(spec: ResponseSpec): string | undefined {
  if (spec.min !== undefined || spec.max !== undefined) {
    if (spec.type !== "int" && spec.type !== "float") {
      return "'min' and 'max' belong to types int and float only";
    }
    if (
      spec.type === "int" &&
      [spec.min, spec.max].some((n) => n !== undefined && !Number.isSafeInteger(n))
    ) return "'min' and 'max' of type int must be whole numbers";
  }
  return shapeProblem(spec);
}
