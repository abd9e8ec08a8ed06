/**
 * Multi-row statements: many rows per statement, in chunks that stay under
 * SQLite's limit of bound variables, each chunk size prepared once.
 *
 * @module
 */

import type { SQLInputValue, StatementSync } from "node:sqlite";
import type { Database } from "./db.ts";

/** The values bound to one statement, in order. */
export type Args = SQLInputValue[];

/** Rows per multi-row statement at most (a power of two). */
const MAX_CHUNK = 512;

/** SQLite's default SQLITE_MAX_VARIABLE_NUMBER since 3.32. */
const MAX_VARIABLES = 32766;

/**
 * One multi-row statement: `head` + `(?, …), (?, …) …` + `tail`, run over a
 * list in chunks of a power of two rows, each size prepared once.
 */
export class MultiRow<T> {
  readonly #db: Database;
  readonly #head: string;
  readonly #tuple: string;
  readonly #tail: string;
  readonly #width: number;
  readonly #bind: (item: T, out: Args) => void;
  readonly #max: number;
  readonly #stmts = new Map<number, StatementSync>();

  constructor(
    db: Database,
    spec: {
      head: string;
      width: number;
      tail?: string;
      bind: (item: T, out: Args) => void;
      /** Rows per statement at most; rounded down to a power of two. */
      maxRows?: number;
    },
  ) {
    this.#db = db;
    this.#head = spec.head;
    this.#tail = spec.tail ?? "";
    this.#width = spec.width;
    this.#tuple = `(${new Array(spec.width).fill("?").join(", ")})`;
    this.#bind = spec.bind;
    let max = MAX_CHUNK;
    while (max > 1 && (max * spec.width > MAX_VARIABLES || max > (spec.maxRows ?? max))) max >>= 1;
    this.#max = max;
  }

  #stmt(rows: number): StatementSync {
    let s = this.#stmts.get(rows);
    if (!s) {
      const values = new Array(rows).fill(this.#tuple).join(", ");
      s = this.#db.prepare(`${this.#head} VALUES ${values} ${this.#tail}`);
      this.#stmts.set(rows, s);
    }
    return s;
  }

  /** Runs the statement over every item, `bind` giving each one's values. */
  run(items: readonly T[]): void {
    let i = 0;
    while (i < items.length) {
      const left = items.length - i;
      let n = this.#max;
      while (n > left) n >>= 1;
      const args: Args = [];
      for (let k = i; k < i + n; k++) this.#bind(items[k], args);
      // node:sqlite reads text only up to a NUL: a NUL is stored as U+FFFD (see types.ts).
      for (let a = 0; a < args.length; a++) {
        const v = args[a];
        if (typeof v === "string" && v.includes("\0")) args[a] = v.replaceAll("\0", "\uFFFD");
      }
      this.#stmt(n).run(...args);
      i += n;
    }
  }
}
