/**
 * What a player reports of its host in its hello: the operating system,
 * kernel release, architecture and orch version, and the operator's facts
 * (which may not override these four).
 *
 * @module
 */

import { OrchError } from "../errors.ts";
import { LABEL_VALUE, type Labels, ORCH_VERSION } from "../protocol/mod.ts";

/** The facts every player reports. */
export const SYSTEM_FACTS = ["os", "kernel", "arch", "version"] as const;

/** The host's own facts; `kernel` is left out where it cannot be read. */
export async function systemFacts(): Promise<Record<string, string>> {
  const facts: Record<string, string> = {
    os: Deno.build.os,
    arch: Deno.build.arch,
    version: ORCH_VERSION,
  };
  try {
    const kernel = (await Deno.readTextFile("/proc/sys/kernel/osrelease")).trim();
    if (LABEL_VALUE.test(kernel)) facts.kernel = kernel;
  } catch {
    // Not Linux, or no /proc: the kernel is not reported.
  }
  return facts;
}

/**
 * The facts a player reports: the host's, then the operator's. Throws
 * `OrchError("config")` when the operator's name one of the host's.
 */
export function mergeFacts(system: Labels, operator: Labels, file: string): Labels {
  for (const k of SYSTEM_FACTS) {
    if (Object.hasOwn(operator, k)) {
      throw new OrchError(
        "config",
        `facts file ${file}: the fact ${k} is reported by the player itself; choose another key`,
      );
    }
  }
  return { ...system, ...operator };
}
