/**
 * The players file: the names of the players allowed to connect, one per
 * line; `#` starts a comment; blank lines are ignored.
 *
 * @module
 */

import { OrchError } from "../errors.ts";
import { normalizePlayerName, PLAYER_NAME, PLAYER_NAME_DESC } from "../protocol/names.ts";

/** Parses the players file's text; throws `OrchError("config")` naming FILE:LINE. */
export function parsePlayersFile(text: string, file: string): Set<string> {
  const names = new Set<string>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/#.*/, "").trim();
    if (line === "") continue;
    if (!PLAYER_NAME.test(line)) {
      throw new OrchError(
        "config",
        `${file}:${i + 1}: ${JSON.stringify(line)} is not ${PLAYER_NAME_DESC}`,
      );
    }
    const name = normalizePlayerName(line);
    if (names.has(name)) {
      throw new OrchError("config", `${file}:${i + 1}: player ${name} is listed twice`);
    }
    names.add(name);
  }
  return names;
}

/** Reads and parses the players file. */
export async function readPlayersFile(file: string): Promise<Set<string>> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound ? "does not exist" : (err as Error).message;
    throw new OrchError("config", `players file ${file} ${why}`, {
      hint: "list the names of the players allowed to connect, one per line",
    });
  }
  return parsePlayersFile(text, file);
}
