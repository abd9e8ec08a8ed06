/**
 * A score's conf file (`NAME.conf` beside the executable): YAML, or the
 * original Orchestra `key=value` lines. Parsing never throws for bad
 * content; it returns every problem with its line, so that `orch score lint`
 * can show them all and a player can refuse the score with a reason.
 *
 * @module
 */

import { isMap, isScalar, isSeq, LineCounter, parseDocument, type YAMLMap } from "yaml";
import { parseDuration } from "../config/units.ts";
import {
  decodeParamSpec,
  LIMITS,
  PARAM_KEY,
  PARAM_KEY_DESC,
  type ParamSpec,
  SCORE_INTERFACES,
  type ScoreInterface,
} from "../protocol/mod.ts";
import type { OrchError } from "../errors.ts";
import { Obj } from "../protocol/validate.ts";
import { checkValue } from "./params.ts";
import { patternProblem } from "./pattern.ts";

/** A score's configuration. */
export interface ScoreConf {
  /** How parameters go in and the response comes out. */
  interface: ScoreInterface;
  /** Working directory of the score; `null` for the scores directory. */
  dir: string | null;
  /** `PATH` the score runs with; `null` for {@linkcode DEFAULT_PATH}. */
  path: string | null;
  /** Default timeout in ms; `null` for none. */
  timeout_ms: number | null;
  /** Largest timeout a job may ask for, in ms; `null` for no limit. */
  max_timeout_ms: number | null;
  /** Running it twice is harmless; required before a job may ask for retries. */
  idempotent: boolean;
  /** Declared parameters; `null` when none are declared (any valid keys accepted). */
  params: Record<string, ParamSpec> | null;
  /** What the score does, for people. */
  description: string | null;
}

/** `PATH` for scores whose conf does not set one. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The conf of a score that has no conf file. */
export const DEFAULT_CONF: ScoreConf = {
  interface: "env",
  dir: null,
  path: null,
  timeout_ms: null,
  max_timeout_ms: null,
  idempotent: false,
  params: null,
  description: null,
};

/** Something wrong (`error`) or worth changing (`hint`) in a conf, at a line. */
export interface ConfProblem {
  line: number;
  severity: "error" | "hint";
  message: string;
}

/** What parsing a conf gives: the conf (defaults where a key was bad) and every problem. */
export interface ConfParse {
  conf: ScoreConf;
  problems: ConfProblem[];
  /** The file used the old `key=value` form. */
  legacy: boolean;
}

/** Keys a conf may hold, each with what it means. */
export const CONF_KEYS: Record<string, string> = {
  interface: `how parameters go in and the response comes out: ${SCORE_INTERFACES.join(", ")}`,
  dir: "working directory (absolute path)",
  path: "PATH for the score (absolute folders separated by ':')",
  timeout: "default timeout (e.g. 30s, 10m)",
  max_timeout: "largest timeout a job may ask for",
  idempotent: "true when running it twice is harmless (allows retries)",
  params:
    "declared parameters: NAME: {type, required, default, values, pattern, max_length, min, max}",
  description: "what the score does",
};

const LEGACY_LINE = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/;

/** Parses the text of a conf file. */
export function parseConf(text: string): ConfParse {
  const lines = text.split("\n");
  const meaningful = lines
    .map((l, i) => ({ text: l, line: i + 1 }))
    .filter((l) => l.text.trim() !== "" && !l.text.trim().startsWith("#"));
  if (meaningful.length > 0 && meaningful.every((l) => LEGACY_LINE.test(l.text))) {
    return parseLegacy(meaningful);
  }
  return parseYaml(text);
}

function parseLegacy(lines: { text: string; line: number }[]): ConfParse {
  const b = new ConfBuilder();
  for (const { text, line } of lines) {
    const m = LEGACY_LINE.exec(text)!;
    const key = m[1];
    const value = m[2].trim();
    if (key === "params") {
      b.error(line, "params cannot be declared in the old key=value form; write the conf in YAML");
      continue;
    }
    b.hint(line, `old key=value form; in YAML write: ${key}: ${value === "" ? '""' : value}`);
    b.set(key, value, line);
  }
  return { ...b.finish(), legacy: true };
}

function parseYaml(text: string): ConfParse {
  const b = new ConfBuilder();
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const line = e.linePos?.[0]?.line ?? counter.linePos(e.pos[0]).line;
      b.error(line, e.message.split("\n")[0]);
    }
    return { ...b.finish(), legacy: false };
  }
  if (doc.contents !== null) {
    if (!isMap(doc.contents)) {
      b.error(1, "expected a mapping of keys to values (e.g. `interface: pipe`)");
    } else {
      const lineOf = (node: unknown) => {
        const range = (node as { range?: [number, number, number] } | null)?.range;
        return range ? counter.linePos(range[0]).line : 1;
      };
      for (const pair of (doc.contents as YAMLMap).items) {
        const line = lineOf(pair.key);
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        if (key === "params") {
          if (pair.value === null || (isScalar(pair.value) && pair.value.value === null)) {
            b.setParams({}, line);
          } else if (!isMap(pair.value)) {
            b.error(line, "key 'params': expected a mapping of parameter names to declarations");
          } else {
            const params: Record<string, ParamSpec> = {};
            for (const p of pair.value.items) {
              const pline = lineOf(p.key);
              const name = isScalar(p.key) ? String(p.key.value) : String(p.key);
              const spec = b.paramSpec(name, p.value, pline, lineOf);
              if (spec) params[name] = spec;
            }
            b.setParams(params, line);
          }
          continue;
        }
        if (isMap(pair.value) || isSeq(pair.value)) {
          b.error(line, `key '${key}': expected a single value`);
          continue;
        }
        const value = isScalar(pair.value) ? pair.value.value : null;
        b.set(key, value, line);
      }
    }
  }
  return { ...b.finish(), legacy: false };
}

class ConfBuilder {
  conf: ScoreConf = { ...DEFAULT_CONF };
  problems: ConfProblem[] = [];
  #timeoutLine = 0;

  error(line: number, message: string): void {
    this.problems.push({ line, severity: "error", message });
  }

  hint(line: number, message: string): void {
    this.problems.push({ line, severity: "hint", message });
  }

  set(key: string, value: unknown, line: number): void {
    const text = value === null || value === undefined ? "" : String(value);
    const fail = (m: string) => this.error(line, `key '${key}': ${m}`);
    switch (key) {
      case "interface":
        if ((SCORE_INTERFACES as readonly string[]).includes(text)) {
          this.conf.interface = text as ScoreInterface;
        } else fail(`${JSON.stringify(text)} is not one of ${SCORE_INTERFACES.join(", ")}`);
        return;
      case "dir":
        if (text.startsWith("/")) this.conf.dir = text;
        else fail(`${JSON.stringify(text)} is not an absolute path`);
        return;
      case "path": {
        const bad = text.split(":").filter((p) => !p.startsWith("/"));
        if (text !== "" && bad.length === 0) this.conf.path = text;
        else {fail(`every folder must be an absolute path; not: ${
            bad.map((p) => JSON.stringify(p)).join(", ")
          }`);}
        return;
      }
      case "timeout":
      case "max_timeout": {
        const ms = typeof value === "number" ? Math.round(value * 1000) : parseDuration(text);
        if (ms === undefined || ms <= 0) {
          fail(`${JSON.stringify(text)} is not a duration (e.g. 30s, 10m, 1h)`);
          return;
        }
        if (ms > LIMITS.maxTimeoutMs) {
          fail(`${JSON.stringify(text)} is longer than the longest timeout, 24d`);
          return;
        }
        if (key === "timeout") {
          this.conf.timeout_ms = ms;
          this.#timeoutLine = line;
        } else this.conf.max_timeout_ms = ms;
        return;
      }
      case "idempotent":
        if (value === true || text === "true" || text === "yes") this.conf.idempotent = true;
        else if (value === false || text === "false" || text === "no") this.conf.idempotent = false;
        else fail(`${JSON.stringify(text)} is not true or false`);
        return;
      case "description":
        this.conf.description = text;
        return;
      default:
        this.error(line, `unknown key '${key}' (known: ${Object.keys(CONF_KEYS).join(", ")})`);
    }
  }

  setParams(params: Record<string, ParamSpec>, _line: number): void {
    this.conf.params = params;
  }

  paramSpec(
    name: string,
    node: unknown,
    line: number,
    lineOf: (node: unknown) => number,
  ): ParamSpec | undefined {
    if (!PARAM_KEY.test(name)) {
      this.error(line, `parameter ${JSON.stringify(name)}: not ${PARAM_KEY_DESC}`);
      return undefined;
    }
    if (isScalar(node) && typeof node.value === "string") {
      // Short form: `NAME: string`.
      node = { type: node.value };
    } else if (isMap(node)) {
      node = node.toJSON();
    } else {
      this.error(
        lineOf(node) || line,
        `parameter ${name}: expected a type or a mapping with 'type'`,
      );
      return undefined;
    }
    const raw = node as Record<string, unknown>;
    // Numbers and booleans written bare in YAML are fine where a string is meant.
    if (typeof raw.default === "number" || typeof raw.default === "boolean") {
      raw.default = String(raw.default);
    }
    if (Array.isArray(raw.values)) raw.values = raw.values.map((v) => String(v));
    let spec: ParamSpec;
    try {
      spec = decodeParamSpec(Obj.from(raw, `parameter ${name}`, "invalid"));
    } catch (err) {
      this.error(line, (err as OrchError).message);
      return undefined;
    }
    const problem = checkParamSpec(spec);
    if (problem) {
      this.error(line, `parameter ${name}: ${problem}`);
      return undefined;
    }
    return spec;
  }

  finish(): { conf: ScoreConf; problems: ConfProblem[] } {
    const c = this.conf;
    if (c.timeout_ms !== null && c.max_timeout_ms !== null && c.timeout_ms > c.max_timeout_ms) {
      this.error(this.#timeoutLine, "timeout is longer than max_timeout");
    }
    if (c.params && Object.keys(c.params).length > LIMITS.maxParams) {
      this.error(1, `at most ${LIMITS.maxParams} parameters may be declared`);
    }
    this.problems.sort((a, b) => a.line - b.line);
    return { conf: c, problems: this.problems };
  }
}

/** What is inconsistent in a parameter declaration, or undefined. */
export function checkParamSpec(spec: ParamSpec): string | undefined {
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
  if ((spec.min !== undefined || spec.max !== undefined) && spec.type !== "int") {
    return "'min' and 'max' belong to type int only";
  }
  if (spec.min !== undefined && spec.max !== undefined && spec.min > spec.max) {
    return "'min' is above 'max'";
  }
  if (spec.required && spec.default !== undefined) {
    return "a required parameter cannot have a default";
  }
  if (spec.default !== undefined) {
    const problem = checkValue(spec, spec.default);
    if (problem) return `default ${problem}`;
  }
  return undefined;
}
