/**
 * A raw request on a cluster's audience HTTPS port, with a chosen client
 * certificate or none: for tests of what the port refuses.
 *
 * @module
 */

import https from "node:https";
import { join } from "node:path";
import { checkAnswer, type Cluster } from "./cluster.ts";

/** A certificate and key in PEM. */
export interface CertPair {
  cert: string;
  key: string;
}

/** The certificate and key the cluster's CA issued to `name`. */
export function certPair(c: Cluster, name: string): CertPair {
  return {
    cert: Deno.readTextFileSync(join(c.caDir, `${name}.crt`)),
    key: Deno.readTextFileSync(join(c.caDir, `${name}.key`)),
  };
}

/**
 * A GET on the audience HTTPS port as `who` (none when left out); resolves
 * with the status and body, or with the error's text when there is no answer.
 */
export function httpsGet(
  c: Cluster,
  path: string,
  who?: CertPair,
  onRequest?: (req: ReturnType<typeof https.request>) => void,
): Promise<{ status: number; body: string } | string> {
  return httpsRequest(c, "GET", path, who, {}, onRequest);
}

/** Like {@linkcode httpsGet}, with any method and headers (and no body). */
export function httpsRequest(
  c: Cluster,
  method: string,
  path: string,
  who?: CertPair,
  headers: Record<string, string> = {},
  onRequest?: (req: ReturnType<typeof https.request>) => void,
): Promise<{ status: number; body: string } | string> {
  const ca = Deno.readTextFileSync(join(c.caDir, "ca.crt"));
  return new Promise((resolve) => {
    const req = https.request({
      method,
      host: "127.0.0.1",
      port: c.audiencePort,
      path,
      headers,
      servername: "localhost",
      ca,
      ...who,
      agent: false,
    }, (res) => {
      const chunks: Uint8Array[] = [];
      res.on("data", (d: Uint8Array) => chunks.push(d));
      res.on("end", () => {
        const bytes = new Uint8Array(chunks.reduce((n, b) => n + b.length, 0));
        let at = 0;
        for (const b of chunks) bytes.set(b, (at += b.length) - b.length);
        const status = res.statusCode ?? 0;
        const headers = new Headers({ "content-type": String(res.headers["content-type"] ?? "") });
        // Every answer is checked against the API's description; a mismatch fails the test.
        checkAnswer(method, path, new Response(null, { status, headers }), bytes);
        resolve({ status, body: new TextDecoder().decode(bytes) });
      });
      res.on("error", (err) => resolve(`error: ${err.message}`));
    });
    req.on("error", (err) => resolve(`error: ${err.message}`));
    onRequest?.(req);
    req.end();
  });
}
