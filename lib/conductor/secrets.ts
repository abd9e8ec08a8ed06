/**
 * Secret parameters: which keys of a job are secret, and the key that seals
 * their values for the store.
 *
 * Without a `secrets_key`, a secret value lives in the conductor's memory
 * only, from the submit until every task of its job is final; the store
 * holds a placeholder. With one, each value is sealed with AES-256-GCM
 * (a random 96-bit nonce per value; the job id and the parameter's key as
 * associated data, so a sealed value cannot be moved to another job or
 * key) before it reaches the store, and opened when the conductor loads.
 *
 * Sealing is synchronous (`node:crypto`), so a submit seals its values in
 * the same step that gives the job its id and records it: nothing else can
 * run in between.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { OrchError } from "../errors.ts";
import type { ScoreInfo } from "../protocol/mod.ts";
import type { JobRecord } from "../store/mod.ts";

/** Bytes of a `secrets_key`. */
export const SECRETS_KEY_BYTES = 32;
/** The prefix of a sealed value: the format's version. */
const SEALED_PREFIX = "v1:";
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

function associated(jobId: number, key: string): Uint8Array {
  return new TextEncoder().encode(`orch secret param\0${jobId}\0${key}`);
}

/** Seals and opens secret values with the conductor's `secrets_key`. */
export class SecretBox {
  readonly #key: Uint8Array;
  /** Where the key came from, for messages: `secrets_key /etc/orchestra/secrets.key`. */
  readonly source: string;

  /** @param key the 32 bytes of the key */
  constructor(key: Uint8Array, source = "the secrets key") {
    this.source = source;
    if (key.length !== SECRETS_KEY_BYTES) {
      throw new RangeError(`a secrets key is ${SECRETS_KEY_BYTES} bytes, not ${key.length}`);
    }
    this.#key = key.slice();
  }

  /** `value` of parameter `key` of job `jobId`, sealed: `v1:` + base64 of nonce, ciphertext, tag. */
  seal(jobId: number, key: string, value: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, nonce);
    cipher.setAAD(associated(jobId, key));
    const body = Buffer.concat([cipher.update(value, "utf8"), cipher.final(), cipher.getAuthTag()]);
    return SEALED_PREFIX + Buffer.concat([nonce, body]).toString("base64");
  }

  /**
   * The value `sealed` holds, or undefined when this key did not seal it
   * for that job and parameter (another key, or a value moved or altered).
   */
  open(jobId: number, key: string, sealed: string): string | undefined {
    if (!sealed.startsWith(SEALED_PREFIX)) return undefined;
    const bytes = Buffer.from(sealed.slice(SEALED_PREFIX.length), "base64");
    if (bytes.length < NONCE_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv(
        "aes-256-gcm",
        this.#key,
        bytes.subarray(0, NONCE_BYTES),
      );
      decipher.setAAD(associated(jobId, key));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)),
        decipher.final(),
      ]).toString("utf8");
    } catch {
      return undefined;
    }
  }
}

/**
 * The 32-byte key in a `secrets_key` file: raw bytes, or their base64 (one
 * line). The file must be mode 0600 or 0400. Throws `OrchError("config")`
 * naming the file and what is wrong; the key itself is never quoted.
 */
export async function loadSecretsKey(path: string): Promise<SecretBox> {
  let info: Deno.FileInfo;
  let bytes: Uint8Array;
  try {
    info = await Deno.stat(path);
    if (!info.isFile) throw new Error("not a regular file");
    if (info.size > 1024) throw new Error(`it is ${info.size} bytes; a key is 32, or 44 in base64`);
    bytes = await Deno.readFile(path);
  } catch (err) {
    throw new OrchError("config", `cannot read secrets_key ${path}: ${(err as Error).message}`);
  }
  const mode = (info.mode ?? 0) & 0o777;
  if (mode !== 0o600 && mode !== 0o400) {
    throw new OrchError(
      "config",
      `secrets_key ${path} has mode ${mode.toString(8).padStart(4, "0")}; it must be 0600 or 0400`,
      { hint: `chmod 600 ${path}` },
    );
  }
  const source = `secrets_key ${path}`;
  if (bytes.length === SECRETS_KEY_BYTES) return new SecretBox(bytes, source);
  const text = new TextDecoder().decode(bytes).trim();
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) {
    const decoded = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    if (decoded.length === SECRETS_KEY_BYTES) return new SecretBox(decoded, source);
  }
  throw new OrchError(
    "config",
    `secrets_key ${path} holds no key: it must hold ${SECRETS_KEY_BYTES} random bytes, raw or in base64`,
    { hint: `make one with: (umask 077; head -c 32 /dev/urandom | base64 > ${path})` },
  );
}

/**
 * The keys of `params` that are secret: those the request marks, and those
 * a declaration of the score says `secret: true` — as any of `declarations`
 * (what the targets announced) declares them.
 */
export function secretKeys(
  params: Readonly<Record<string, string>>,
  marked: readonly string[],
  declarations: Iterable<ScoreInfo>,
): string[] {
  const keys = new Set(marked.filter((k) => Object.hasOwn(params, k)));
  for (const info of declarations) {
    for (const [k, spec] of Object.entries(info.params ?? {})) {
      if (spec.secret && Object.hasOwn(params, k)) keys.add(k);
    }
  }
  return [...keys];
}

/**
 * Opens the sealed secret values of the jobs the store loaded, into their
 * params. A value held in memory only (null) stays missing: its job's
 * tasks cannot be sent again. Throws `OrchError("config")` when a value is
 * sealed and there is no key, or a key that did not seal it: the conductor
 * then refuses to start, rather than end those tasks.
 */
export function openSealed(jobs: readonly JobRecord[], box: SecretBox | null): void {
  for (const j of jobs) {
    for (const [key, sealed] of Object.entries(j.secrets)) {
      if (sealed === null) continue;
      if (box === null) {
        throw new OrchError(
          "config",
          `the conductor database holds secret parameters of open job ${j.id} sealed with a secrets_key, and none is set`,
          { hint: "set secrets_key to the key the conductor used before (see README: Secrets)" },
        );
      }
      const value = box.open(j.id, key, sealed);
      if (value === undefined) {
        throw new OrchError(
          "config",
          `${box.source} does not open the secret parameter ${key} of open job ${j.id}: it is not the key it was sealed with`,
          { hint: "set secrets_key to the key the conductor used before (see README: Secrets)" },
        );
      }
      j.params[key] = value;
    }
  }
}
