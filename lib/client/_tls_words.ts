/**
 * What a failed TLS connection to the conductor means, read from the
 * runtime's error (rustls words it: `invalid peer certificate: …`,
 * `received fatal alert: …`), and how to say it to the person who runs the
 * command: what was dialled, what the conductor's certificate holds, and
 * the flag or the `orch ca` command that fixes it. Pure: no I/O.
 *
 * @module
 */

import { OrchError } from "../errors.ts";

/** What went wrong, as far as the TLS stack says. */
export type TlsProblem =
  /** The conductor's certificate does not hold the name expected; `names` are those it holds, when told. */
  | { kind: "name"; expected: string; names: string[] | null }
  /** The conductor's certificate is not from the CA this client trusts. */
  | { kind: "unknown_ca"; detail: string }
  /** The conductor's certificate has expired. */
  | { kind: "expired"; detail: string }
  /** The conductor's certificate is not valid yet. */
  | { kind: "not_yet_valid"; detail: string }
  /** The certificate shown may not serve (it is a player's or an audience member's). */
  | { kind: "not_conductor" }
  /** The conductor refused this client's certificate with a TLS alert. */
  | { kind: "refused"; alert: string }
  /** Another verification or handshake failure. */
  | { kind: "other"; detail: string };

/** The problem `err` reports, or null when it is not a TLS verification or handshake failure. */
export function tlsProblem(err: unknown): TlsProblem | null {
  if (!(err instanceof Error)) return null;
  const message = err.message;
  const alert = /received fatal alert: (\w+)/.exec(message);
  if (alert) return { kind: "refused", alert: alert[1] };
  const invalid = /invalid peer certificate: (.*)$/s.exec(message);
  if (!invalid) {
    if (/^(peer is incompatible|peer misbehaved|handshake)/i.test(message)) {
      return { kind: "other", detail: message };
    }
    return null;
  }
  const detail = invalid[1];
  const name = /not valid for name "((?:[^"\\]|\\.)*)"/.exec(detail);
  if (name || /NotValidForName/.test(detail)) {
    const names = [...detail.matchAll(/DnsName\("((?:[^"\\]|\\.)*)"\)|IpAddress\(([^)]*)\)/g)]
      .map((m) => m[1] ?? m[2]);
    const none = /not valid for any names/.test(detail);
    return {
      kind: "name",
      expected: name ? name[1] : "",
      names: names.length > 0 || none ? names : null,
    };
  }
  if (/UnknownIssuer|BadSignature|UnknownCA/i.test(detail)) return { kind: "unknown_ca", detail };
  if (/extended key usage|InvalidPurpose/i.test(detail)) return { kind: "not_conductor" };
  if (/expired/i.test(detail)) return { kind: "expired", detail };
  if (/NotValidYet|not valid yet/i.test(detail)) return { kind: "not_yet_valid", detail };
  return { kind: "other", detail };
}

/**
 * A TLS connection to a conductor that failed for a certificate: the
 * conductor's (`side` "server": another conductor of the list may be
 * fine) or this client's, refused by the conductor ("client").
 */
export class TlsRefusedError extends OrchError {
  constructor(
    readonly side: "server" | "client",
    message: string,
    options: { cause?: unknown; hint?: string },
  ) {
    super("forbidden", message, options);
    this.name = "TlsRefusedError";
  }
}

/** What the person ran, for the words of an error. */
export interface TlsContext {
  /** Where the client talks to (`https://127.0.0.1:2259`). */
  where: string;
  /** The host dialled. */
  host: string;
  /** The name the conductor's certificate had to hold. */
  expectName: string;
  /** The CA certificate file trusted, when known. */
  caFile?: string;
  /** Where the name expected came from when it is not the host (`ORCH_CONDUCTOR_NAME`). */
  nameFrom?: string;
}

/**
 * The error to report for `problem`: a refusal (`forbidden`) with a hint,
 * never "cannot reach", since trying the same conductor again will not help.
 */
export function tlsError(problem: TlsProblem, ctx: TlsContext, cause?: unknown): TlsRefusedError {
  const at = `the conductor at ${ctx.where}`;
  const fail = (message: string, hint: string) =>
    new TlsRefusedError(problem.kind === "refused" ? "client" : "server", message, { cause, hint });
  switch (problem.kind) {
    case "name": {
      const asked = ctx.expectName === ctx.host
        ? `${ctx.expectName}, the name dialled`
        : `${ctx.expectName}, the name asked for (${ctx.nameFrom ?? "--conductor-name"})`;
      const holds = problem.names === null
        ? "other names"
        : problem.names.length === 0
        ? "no names"
        : problem.names.join(", ");
      const other = problem.names?.find((n) => n !== ctx.expectName);
      return fail(
        `${at} shows a certificate for ${holds}, not for ${asked}`,
        `check it for a name it holds with --conductor-name ${other ?? "NAME"} ` +
          `(env ORCH_CONDUCTOR_NAME, or conductor_name in the client config), or dial that name; ` +
          `or issue the conductor a certificate that holds ${ctx.expectName}: ` +
          `orch ca issue NAME --role conductor --san ${ctx.expectName}`,
      );
    }
    case "unknown_ca":
      return fail(
        `${at} shows a certificate that is not issued by the CA this client trusts${
          ctx.caFile ? ` (${ctx.caFile})` : ""
        }`,
        "give the deployment's CA certificate (ca.crt in the folder orch ca init made) with " +
          "--ca PATH (env ORCH_CA, or ca in the client config)",
      );
    case "expired":
      return fail(
        `${at} shows an expired certificate (${problem.detail})`,
        "issue the conductor a new one (orch ca issue NAME --role conductor --san HOST) and restart it; " +
          "or check this host's clock",
      );
    case "not_yet_valid":
      return fail(
        `${at} shows a certificate that is not valid yet (${problem.detail})`,
        "check the clocks of this host and of the conductor",
      );
    case "not_conductor":
      return fail(
        `${at} shows a certificate that is not a conductor's (it may only be used by a client: ` +
          "a player or an audience member)",
        "something else answers on that address, or the conductor was given another role's " +
          "certificate; issue it one with: orch ca issue NAME --role conductor --san HOST",
      );
    case "refused":
      return fail(
        `${at} refused this client's certificate (TLS alert ${problem.alert})`,
        "the conductor's log says why; get a certificate from the deployment's CA: " +
          "orch ca issue NAME --role audience",
      );
    case "other":
      return fail(
        `the TLS handshake with ${at} failed: ${problem.detail}`,
        "check that the address is the conductor's audience HTTPS port and that both ends use " +
          "the deployment's CA",
      );
  }
}
