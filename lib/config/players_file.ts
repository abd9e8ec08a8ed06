/**
 * The players file: the names of the players allowed to connect, one per
 * line, each optionally followed by its labels (`web1 role=web dc=syd
 * tier=1`); `#` starts a comment; blank lines are ignored.
 *
 * @module
 */

import { OrchError } from "../errors.ts";
import { normalizePlayerName, PLAYER_NAME, PLAYER_NAME_DESC } from "../protocol/names.ts";
import { checkLabel, type Labels, TARGET_LIMITS } from "../protocol/targets.ts";

/** The players file: each listed name with its labels. */
export type PlayersFile = Map<string, Labels>;

/** Parses the players file's text; throws `OrchError("config")` naming FILE:LINE. */
export function parsePlayersFile(text: string, file: string): PlayersFile {
  const players: PlayersFile = new Map();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const at = `${file}:${i + 1}`;
    const fail = (msg: string): never => {
      throw new OrchError("config", `${at}: ${msg}`);
    };
    const line = lines[i].replace(/#.*/, "").trim();
    if (line === "") continue;
    const [first, ...rest] = line.split(/\s+/);
    // A line of words none of which is a label reads as one bad name.
    const labelled = rest.some((w) => w.includes("="));
    if (!PLAYER_NAME.test(first) || (rest.length > 0 && !labelled)) {
      fail(`${JSON.stringify(labelled ? first : line)} is not ${PLAYER_NAME_DESC}`);
    }
    const name = normalizePlayerName(first);
    if (players.has(name)) fail(`player ${name} is listed twice`);
    if (rest.length > TARGET_LIMITS.maxLabels) {
      fail(`player ${name} has more than ${TARGET_LIMITS.maxLabels} labels`);
    }
    const labels: Record<string, string> = {};
    for (const word of rest) {
      const eq = word.indexOf("=");
      if (eq < 0) {
        fail(
          `${JSON.stringify(word)} after player ${name} is not a label (KEY=VALUE, as in role=web)`,
        );
      }
      const key = word.slice(0, eq);
      const value = word.slice(eq + 1);
      checkLabel(key, value, (msg) => fail(`player ${name}: ${msg}`));
      if (Object.hasOwn(labels, key)) fail(`player ${name} has the label ${key} twice`);
      labels[key] = value;
    }
    players.set(name, labels);
  }
  return players;
}

/** Reads and parses the players file. */
export async function readPlayersFile(file: string): Promise<PlayersFile> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound ? "does not exist" : (err as Error).message;
    throw new OrchError("config", `players file ${file} ${why}`, {
      hint: "list the names of the players allowed to connect, one per line, each with its labels",
    });
  }
  return parsePlayersFile(text, file);
}
