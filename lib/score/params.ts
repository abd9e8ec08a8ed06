/**
 * Checking job parameters against what a score declares. The conductor
 * checks at submit time against what players announced; each player checks
 * again against its own conf before it runs anything.
 *
 * @module
 */

import type { ParamSpec } from "../protocol/mod.ts";
import { clip, printable } from "../protocol/validate.ts";
import { compilePattern } from "./pattern.ts";

/** What is wrong with `value` for `spec`, or undefined when it fits. */
export function checkValue(spec: ParamSpec, value: string): string | undefined {
  // A secret value is never quoted: the message is stored and shown.
  const quoted = spec.secret ? "the secret value" : JSON.stringify(clip(value, 60));
  switch (spec.type) {
    case "int": {
      if (!/^-?\d{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) {
        return `${quoted} is not an integer`;
      }
      const n = Number(value);
      const shown = spec.secret ? quoted : String(n);
      if (spec.min !== undefined && n < spec.min) {
        return `${shown} is below the minimum ${spec.min}`;
      }
      if (spec.max !== undefined && n > spec.max) {
        return `${shown} is above the maximum ${spec.max}`;
      }
      return undefined;
    }
    case "bool":
      return value === "true" || value === "false" ? undefined : `${quoted} is not true or false`;
    case "enum":
      return spec.values?.includes(value)
        ? undefined
        : `${quoted} is not one of ${(spec.values ?? []).join(", ")}`;
    case "string":
      if (spec.max_length !== undefined && [...value].length > spec.max_length) {
        return `is longer than ${spec.max_length} characters`;
      }
      if (spec.pattern !== undefined) {
        const shown = printable(clip(spec.pattern, 200));
        let matches: boolean;
        try {
          matches = compilePattern(spec.pattern).test(value);
        } catch (err) {
          if (!(err instanceof SyntaxError)) throw err;
          return `cannot be checked: the pattern ${shown} ${err.message}`;
        }
        if (!matches) return `${quoted} does not match the pattern ${shown}`;
      }
      return undefined;
  }
}

/** The outcome of checking a job's parameters. */
export type ParamCheck =
  | { ok: true; values: Record<string, string> }
  | { ok: false; problems: string[] };

/**
 * Checks `params` against `declared` and fills in defaults. With nothing
 * declared, any (already well-formed) keys are accepted as they are.
 */
export function checkParams(
  declared: Record<string, ParamSpec> | null,
  params: Record<string, string>,
  secret: readonly string[] = [],
): ParamCheck {
  if (declared === null) return { ok: true, values: { ...params } };
  const problems: string[] = [];
  const values: Record<string, string> = {};
  for (const key of Object.keys(params)) {
    if (!Object.hasOwn(declared, key)) {
      const known = Object.keys(declared);
      problems.push(
        `unknown parameter ${key} (${
          known.length ? `declared: ${known.join(", ")}` : "the score takes none"
        })`,
      );
    }
  }
  for (const [key, spec] of Object.entries(declared)) {
    const value = Object.hasOwn(params, key) ? params[key] : undefined;
    if (value === undefined) {
      if (spec.required) problems.push(`parameter ${key} is required`);
      else if (spec.default !== undefined) values[key] = spec.default;
      continue;
    }
    // A key the assignment marks secret is never quoted either, whatever this conf says of it.
    const problem = checkValue(secret.includes(key) ? { ...spec, secret: true } : spec, value);
    if (problem) problems.push(`parameter ${key}: ${problem}`);
    else values[key] = value;
  }
  return problems.length ? { ok: false, problems } : { ok: true, values };
}
