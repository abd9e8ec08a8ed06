/**
 * Assertions for tests, over `node:assert/strict` (the standard library's
 * assert module is on JSR, which our machines cannot reach).
 *
 * @module
 */

import nodeAssert from "node:assert/strict";

/** Fails unless `value` is truthy. */
export function assert(value: unknown, message?: string): asserts value {
  nodeAssert.ok(value, message);
}

/** Fails unless `actual` deeply equals `expected`. */
export function assertEquals<T>(
  actual: unknown,
  expected: T,
  message?: string,
): asserts actual is T {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

/** Fails if `actual` deeply equals `expected`. */
export function assertNotEquals(actual: unknown, expected: unknown, message?: string): void {
  nodeAssert.notDeepStrictEqual(actual, expected, message);
}

/** Fails unless `text` matches `pattern`. */
export function assertMatch(text: string, pattern: RegExp, message?: string): void {
  nodeAssert.match(text, pattern, message);
}

/** Fails if `text` matches `pattern`. */
export function assertNotMatch(text: string, pattern: RegExp, message?: string): void {
  nodeAssert.doesNotMatch(text, pattern, message);
}

/** Fails unless `fn` throws an error whose message matches `pattern`; returns the error. */
export function assertThrows(fn: () => unknown, pattern?: RegExp): Error {
  try {
    fn();
  } catch (err) {
    if (pattern) nodeAssert.match((err as Error).message, pattern);
    return err as Error;
  }
  throw new nodeAssert.AssertionError({ message: "expected the function to throw" });
}

/** Fails unless `fn` rejects with an error whose message matches `pattern`; returns the error. */
export async function assertRejects(fn: () => Promise<unknown>, pattern?: RegExp): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    if (pattern) nodeAssert.match((err as Error).message, pattern);
    return err as Error;
  }
  throw new nodeAssert.AssertionError({ message: "expected the promise to reject" });
}

/** Fails unless `text` contains `part`. */
export function assertStringIncludes(text: string, part: string, message?: string): void {
  if (!text.includes(part)) {
    throw new Error(message ?? `expected text to contain ${JSON.stringify(part)}:\n${text}`);
  }
}
