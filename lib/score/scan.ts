/**
 * Reading a scores directory: which executables are scores, their confs,
 * and everything wrong with them. The player runs only what this finds
 * valid; `orch score lint` reports the rest.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { OrchError } from "../errors.ts";
import { SCORE_NAME, SCORE_NAME_DESC, type ScoreInfo } from "../protocol/mod.ts";
import { type ConfProblem, DEFAULT_CONF, parseConf, type ScoreConf } from "./conf.ts";

/** A score found valid. */
export interface Score {
  name: string;
  /** Absolute path of the executable. */
  path: string;
  conf: ScoreConf;
  /** The conf file, or null when the score has none. */
  confPath: string | null;
}

/** Something wrong (`error`) or worth changing (`hint`) in a scores directory. */
export interface ScanProblem {
  file: string;
  /** Line in `file`, or null when it is about the file as a whole. */
  line: number | null;
  severity: "error" | "hint";
  message: string;
}

/** The scores of a directory and every problem found there. */
export interface Catalog {
  dir: string;
  scores: Map<string, Score>;
  problems: ScanProblem[];
}

/** Bytes a conf file may have. */
const MAX_CONF_BYTES = 256 * 1024;

/** What {@linkcode scanScores} can check beyond the directory itself. */
export interface ScanOptions {
  /**
   * Why a conf's `user` (and `group`) cannot run scores on this host, or
   * undefined when they can or this host cannot tell. A score with such a
   * problem is not valid.
   */
  accountProblem?: (user: string, group: string | null) => string | undefined;
}

/** Reads `dir`; throws `OrchError("config")` only when the directory itself cannot be read. */
export async function scanScores(dir: string, opts: ScanOptions = {}): Promise<Catalog> {
  const abs = resolve(dir);
  const entries: string[] = [];
  try {
    for await (const e of Deno.readDir(abs)) entries.push(e.name);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound
      ? "does not exist"
      : err instanceof Deno.errors.NotADirectory
      ? "is not a directory"
      : (err as Error).message;
    throw new OrchError("config", `scores directory ${abs} ${why}`);
  }
  entries.sort();
  const names = new Set(entries);
  const catalog: Catalog = { dir: abs, scores: new Map(), problems: [] };
  const problem = (
    file: string,
    line: number | null,
    severity: ScanProblem["severity"],
    message: string,
  ) => catalog.problems.push({ file, line, severity, message });

  for (const name of entries) {
    if (name.startsWith(".")) continue;
    const file = join(abs, name);
    if (name.endsWith(".conf")) {
      const score = name.slice(0, -5);
      if (!names.has(score)) {
        problem(file, null, "error", `conf for a score that does not exist (${score})`);
      }
      continue;
    }
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(file);
    } catch (err) {
      problem(file, null, "error", `cannot be read: ${(err as Error).message}`);
      continue;
    }
    if (info.isDirectory) continue;
    if (!SCORE_NAME.test(name)) {
      problem(file, null, "hint", `ignored: the name is not ${SCORE_NAME_DESC}`);
      continue;
    }
    if (!info.isFile) {
      problem(file, null, "error", "not a regular file");
      continue;
    }
    const mode = info.mode ?? 0o755;
    let ok = true;
    if ((mode & 0o111) === 0) {
      problem(file, null, "error", `not executable (mode ${octal(mode)}); run: chmod +x ${file}`);
      ok = false;
    }
    if ((mode & 0o002) !== 0) {
      problem(
        file,
        null,
        "error",
        `writable by everyone (mode ${octal(mode)}): anyone could change what runs`,
      );
      ok = false;
    } else if ((mode & 0o020) !== 0) {
      problem(
        file,
        null,
        "hint",
        `writable by its group (mode ${octal(mode)}): members could change what runs`,
      );
    }
    let conf = DEFAULT_CONF;
    let confPath: string | null = null;
    if (names.has(`${name}.conf`)) {
      confPath = join(abs, `${name}.conf`);
      const parsed = await readConf(confPath);
      for (const p of parsed.problems) problem(confPath, p.line || null, p.severity, p.message);
      if (parsed.problems.some((p) => p.severity === "error")) ok = false;
      conf = parsed.conf;
      const account = conf.user === null ? undefined : opts.accountProblem?.(conf.user, conf.group);
      if (account !== undefined) {
        problem(confPath, keyLine(parsed.text, "user"), "error", `key 'user': ${account}`);
        ok = false;
      }
    }
    if (ok) catalog.scores.set(name, { name, path: file, conf, confPath });
  }
  return catalog;
}

interface ConfRead {
  conf: ScoreConf;
  problems: ConfProblem[];
  text: string;
}

async function readConf(path: string): Promise<ConfRead> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) return fail("not a regular file");
    if (info.size > MAX_CONF_BYTES) return fail(`larger than ${MAX_CONF_BYTES} bytes`);
    const text = await Deno.readTextFile(path);
    return { ...parseConf(text), text };
  } catch (err) {
    return fail(`cannot be read: ${(err as Error).message}`);
  }
}

function fail(message: string): ConfRead {
  return { conf: DEFAULT_CONF, problems: [{ line: 0, severity: "error", message }], text: "" };
}

/** The line where `key` is set in a conf's text (YAML or key=value), or null. */
function keyLine(text: string, key: string): number | null {
  const re = new RegExp(`^\\s*${key}\\s*[:=]`);
  const i = text.split("\n").findIndex((l) => re.test(l));
  return i < 0 ? null : i + 1;
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

/** What a player announces about `score`. */
export function scoreInfo(score: Score): ScoreInfo {
  const info: ScoreInfo = {
    name: score.name,
    interface: score.conf.interface,
    params: score.conf.params,
    timeout_ms: score.conf.timeout_ms,
    max_timeout_ms: score.conf.max_timeout_ms,
    idempotent: score.conf.idempotent,
  };
  // Announced only when declared, so that a score without one announces what it did before.
  if (score.conf.response !== null) info.response = score.conf.response;
  return info;
}

/** Formats a problem as `FILE:LINE: severity: message`. */
export function formatProblem(p: ScanProblem): string {
  const where = p.line === null ? p.file : `${p.file}:${p.line}`;
  return `${where}: ${p.severity === "hint" ? "hint: " : ""}${p.message}`;
}
