/**
 * A score's conf file (`NAME.conf` beside the executable): YAML, or the
 * original Orchestra `key=value` lines. Parsing never throws for bad
 * content; it returns every problem with its line, so that `orch score lint`
 * can show them all and a player can refuse the score with a reason.
 *
 * @module
 */

import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  LineCounter,
  parseDocument,
  visit,
  type YAMLMap,
} from "yaml";
import { parseDuration } from "../config/units.ts";
import {
  decodeParamSpec,
  decodeResponseSpec,
  LIMITS,
  PARAM_KEY,
  PARAM_KEY_DESC,
  type ParamSpec,
  RESPONSE_KEY,
  RESPONSE_KEY_DESC,
  type ResponseSpec,
  SCORE_INTERFACES,
  type ScoreInterface,
} from "../protocol/mod.ts";
import type { OrchError } from "../errors.ts";
import { Obj } from "../protocol/validate.ts";
import { checkValue } from "./params.ts";
import { shapeProblem } from "./pattern.ts";
import { checkResponseSpec } from "./response.ts";

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
  /**
   * Declared response keys; `null` when none are declared (any response
   * accepted). See {@linkcode checkResponse}.
   */
  response: Record<string, ResponseSpec> | null;
  /** What the score does, for people. */
  description: string | null;
  /** The user it runs as (a name or a numeric id); `null` for the player's own. */
  user: string | null;
  /** The group it runs as (a name or a numeric id); `null` for the user's primary group. */
  group: string | null;
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
  response: null,
  description: null,
  user: null,
  group: null,
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
    "declared parameters: NAME: {type, required, default, values, pattern, max_length, min, max, secret}",
  response:
    "declared response keys (pipe and json scores): NAME: {type, required, values, pattern, max_length, min, max}",
  description: "what the score does",
  user: "the user it runs as (a name or a numeric id); needs a player running as root",
  group: "the group it runs as (a name or a numeric id); default: the user's primary group",
};

/** A user or group name as `useradd` allows it, or a numeric id. */
export const ACCOUNT = /^(?:[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?|\d{1,10})$/;
/** {@linkcode ACCOUNT} for people. */
export const ACCOUNT_DESC =
  "a user or group name (letters, digits, '_', '.', '-', at most 32) or a numeric id";
/** Largest numeric user or group id (2^32 - 2; -1 means "no change" to the kernel). */
export const MAX_ACCOUNT_ID = 4_294_967_294;

/** Aliases (`*name`) a conf may use; each expansion is bounded too. */
const MAX_ALIASES = 100;

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
    if (key === "params" || key === "response") {
      b.error(line, `${key} cannot be declared in the old key=value form; write the conf in YAML`);
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
  // logLevel "error": the yaml package would print its warnings (a list used as a key) to stderr.
  const doc = parseDocument(text, {
    lineCounter: counter,
    prettyErrors: false,
    uniqueKeys: true,
    logLevel: "error",
  });
  const lineOf = (node: unknown, fallback = 1) => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? counter.linePos(range[0]).line : fallback;
  };
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const line = e.linePos?.[0]?.line ?? counter.linePos(e.pos[0]).line;
      b.error(line, e.message.split("\n")[0]);
    }
    return { ...b.finish(), legacy: false };
  }
  if (!aliasesBounded(doc, b, lineOf)) return { ...b.finish(), legacy: false };
  // Aliases are resolved: `*name` stands for what `&name` marks, wherever it is used.
  const deref = (node: unknown): unknown => isAlias(node) ? node.resolve(doc) : node;
  /**
   * A section of declarations (`params:`, `response:`): a mapping of names
   * to declarations, each read by `read`; null (after an error) when the
   * section is not a mapping.
   */
  const declarations = <T>(
    value: unknown,
    line: number,
    key: string,
    names: string,
    read: (name: string, v: unknown, line: number) => T | undefined,
  ): Record<string, T> | null => {
    if (value === null || value === undefined || (isScalar(value) && value.value === null)) {
      return {};
    }
    if (!isMap(value)) {
      b.error(line, `key '${key}': expected a mapping of ${names} to declarations`);
      return null;
    }
    const out: Record<string, T> = Object.create(null);
    for (const p of value.items) {
      const l = lineOf(p.key, line);
      const name = keyText(deref(p.key));
      if (name === undefined) {
        b.error(l, `key '${key}': expected ${names}, not lists or mappings`);
        continue;
      }
      const spec = read(name, deref(p.value), l);
      if (spec) out[name] = spec;
    }
    return { ...out };
  };
  const contents = deref(doc.contents);
  if (contents !== null && contents !== undefined) {
    if (!isMap(contents)) {
      b.error(1, "expected a mapping of keys to values (e.g. `interface: pipe`)");
    } else {
      for (const pair of (contents as YAMLMap).items) {
        const line = lineOf(pair.key);
        const key = keyText(deref(pair.key));
        if (key === undefined) {
          b.error(line, "expected a plain key (a word), not a list or a mapping");
          continue;
        }
        const value = deref(pair.value);
        if (key === "params") {
          const params = declarations(
            value,
            line,
            "params",
            "parameter names",
            (name, v, l) => b.paramSpec(name, v, l, doc),
          );
          if (params) b.setParams(params, line);
          continue;
        }
        if (key === "response") {
          const response = declarations(
            value,
            line,
            "response",
            "response keys",
            (name, v, l) => b.responseSpec(name, v, l, doc),
          );
          if (response) b.setResponse(response, line);
          continue;
        }
        if (value !== null && value !== undefined && !isScalar(value)) {
          b.error(line, `key '${key}': expected a single value, not a list or a mapping`);
          continue;
        }
        const v = isScalar(value) ? value.value : null;
        if (v !== null && !["string", "number", "boolean"].includes(typeof v)) {
          b.error(line, `key '${key}': expected a single value (text, a number, true or false)`);
          continue;
        }
        b.set(key, v, line);
      }
    }
  }
  return { ...b.finish(), legacy: false };
}

/** The text of a mapping key, or undefined when the key is not a scalar. */
function keyText(node: unknown): string | undefined {
  if (isScalar(node)) {
    const v = node.value;
    return v === null ? "" : typeof v === "object" ? undefined : String(v);
  }
  return node === null || node === undefined ? "" : undefined;
}

/**
 * Whether the document's aliases are few and expand to a bounded size (no
 * "billion laughs"); otherwise the reason is added to `b`.
 */
function aliasesBounded(
  doc: Document,
  b: ConfBuilder,
  lineOf: (node: unknown) => number,
): boolean {
  let count = 0;
  let first: unknown = null;
  visit(doc, {
    Alias(_key, node) {
      first ??= node;
      count++;
    },
  });
  if (count === 0) return true;
  if (count > MAX_ALIASES) {
    b.error(lineOf(first), `at most ${MAX_ALIASES} aliases (*name) may be used; found ${count}`);
    return false;
  }
  try {
    doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (err) {
    // Unresolved alias, or aliases that would expand too far.
    b.error(lineOf(first), `aliases cannot be resolved: ${(err as Error).message}`);
    return false;
  }
  return true;
}

class ConfBuilder {
  conf: ScoreConf = { ...DEFAULT_CONF };
  problems: ConfProblem[] = [];
  #timeoutLine = 0;
  #groupLine = 0;
  #responseLine = 0;

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
        if (ms === undefined || !Number.isFinite(ms) || ms <= 0) {
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
      case "user":
      case "group":
        if (!ACCOUNT.test(text)) fail(`${JSON.stringify(text)} is not ${ACCOUNT_DESC}`);
        else if (/^\d+$/.test(text) && Number(text) > MAX_ACCOUNT_ID) {
          fail(`${text} is larger than the largest id, ${MAX_ACCOUNT_ID}`);
        } else {
          this.conf[key] = text;
          if (key === "group") this.#groupLine = line;
        }
        return;
      default:
        this.error(line, `unknown key '${key}' (known: ${Object.keys(CONF_KEYS).join(", ")})`);
    }
  }

  setParams(params: Record<string, ParamSpec>, _line: number): void {
    this.conf.params = params;
  }

  setResponse(response: Record<string, ResponseSpec>, line: number): void {
    this.conf.response = response;
    this.#responseLine = line;
  }

  responseSpec(
    name: string,
    node: unknown,
    line: number,
    doc: Document,
  ): ResponseSpec | undefined {
    if (!RESPONSE_KEY.test(name)) {
      this.error(line, `response key ${JSON.stringify(name)}: not ${RESPONSE_KEY_DESC}`);
      return undefined;
    }
    return this.#declaration(
      `response key ${name}`,
      node,
      line,
      doc,
      decodeResponseSpec,
      checkResponseSpec,
    );
  }

  paramSpec(
    name: string,
    node: unknown,
    line: number,
    doc: Document,
  ): ParamSpec | undefined {
    if (!PARAM_KEY.test(name)) {
      this.error(line, `parameter ${JSON.stringify(name)}: not ${PARAM_KEY_DESC}`);
      return undefined;
    }
    return this.#declaration(`parameter ${name}`, node, line, doc, decodeParamSpec, checkParamSpec);
  }

  /**
   * One declaration (of a parameter or a response key), in its short form
   * (`NAME: int`) or as a mapping, decoded by `decode` and checked by `check`;
   * undefined after an error naming `what`.
   */
  #declaration<T>(
    what: string,
    node: unknown,
    line: number,
    doc: Document,
    decode: (o: Obj) => T,
    check: (spec: T) => string | undefined,
  ): T | undefined {
    let raw: Record<string, unknown>;
    if (isScalar(node) && typeof node.value === "string") {
      raw = { type: node.value };
    } else if (isMap(node)) {
      // Aliases inside were checked to resolve within bounds (see aliasesBounded).
      const js: unknown = node.toJS(doc, { maxAliasCount: MAX_ALIASES });
      if (typeof js !== "object" || js === null || Array.isArray(js)) {
        this.error(line, `${what}: expected a type or a mapping with 'type'`);
        return undefined;
      }
      raw = js as Record<string, unknown>;
    } else {
      this.error(line, `${what}: expected a type or a mapping with 'type'`);
      return undefined;
    }
    // Numbers and booleans written bare in YAML are fine where a string is meant (a default, an
    // enum's values: the text a score gets or prints); anything else (a list, a mapping) is left
    // as it is, for the decoder to refuse by its key.
    const asText = (v: unknown) => typeof v === "number" || typeof v === "boolean" ? String(v) : v;
    if (Object.hasOwn(raw, "default")) raw.default = asText(raw.default);
    if (Array.isArray(raw.values)) raw.values = raw.values.map(asText);
    let spec: T;
    try {
      spec = decode(Obj.from(raw, what, "invalid"));
    } catch (err) {
      this.error(line, (err as OrchError).message);
      return undefined;
    }
    const problem = check(spec);
    if (problem) {
      this.error(line, `${what}: ${problem}`);
      return undefined;
    }
    return spec;
  }

  finish(): { conf: ScoreConf; problems: ConfProblem[] } {
    const c = this.conf;
    if (c.timeout_ms !== null && c.max_timeout_ms !== null && c.timeout_ms > c.max_timeout_ms) {
      this.error(this.#timeoutLine, "timeout is longer than max_timeout");
    }
    if (c.group !== null && c.user === null) {
      this.error(this.#groupLine, "group is set but user is not: name the user the score runs as");
      c.group = null;
    }
    if (c.response !== null && c.interface === "env") {
      this.error(
        this.#responseLine,
        "a response is declared, but interface env returns none: use pipe or json",
      );
    }
    if (c.response && Object.keys(c.response).length > LIMITS.maxResponseKeys) {
      this.error(
        this.#responseLine,
        `at most ${LIMITS.maxResponseKeys} response keys may be declared`,
      );
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
  if ((spec.min !== undefined || spec.max !== undefined) && spec.type !== "int") {
    return "'min' and 'max' belong to type int only";
  }
  const shape = shapeProblem(spec);
  if (shape) return shape;
  if (spec.required && spec.default !== undefined) {
    return "a required parameter cannot have a default";
  }
  if (spec.default !== undefined) {
    const problem = checkValue(spec, spec.default);
    if (problem) return `default ${problem}`;
  }
  return undefined;
}
