/**
 * A bounded set of label values: the first `max` values seen are kept as
 * they are, every later one is reported as {@linkcode OTHER_LABEL}, so that
 * no input can grow a metric's series without bound.
 *
 * @module
 */

/** The label value that stands for every value past the cap. */
export const OTHER_LABEL = "other";

/** Keeps the first `max` distinct values of a label. */
export class LabelCap {
  readonly #max: number;
  readonly #seen = new Set<string>();

  /** @param max distinct values kept at most (1..100000). */
  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1 || max > 100_000) {
      throw new RangeError(`a label cap of ${max} is not an integer in 1..100000`);
    }
    this.#max = max;
  }

  /** `value` itself when it is one of the first `max` seen, else {@linkcode OTHER_LABEL}. */
  label(value: string): string {
    if (this.#seen.has(value)) return value;
    if (this.#seen.size >= this.#max) return OTHER_LABEL;
    this.#seen.add(value);
    return value;
  }

  /** Distinct values kept. */
  get size(): number {
    return this.#seen.size;
  }
}
