/**
 * The audience's client for the conductor's API: where to connect (flags,
 * environment, client config file), the HTTP/1.1 transport over the Unix
 * socket or TLS, the event streams. Nothing here loads a `node:` module or
 * the certificate library before it is needed (an error to explain), so an
 * audience command starts as fast as the runtime does. The dashboard's
 * proxy, a server, is `dashboard_proxy.ts`, imported by itself.
 *
 * @module
 */

export * from "./client.ts";
export * from "./settings.ts";
export * from "./from_settings.ts";
export * from "./local_proof.ts";
export * from "./events.ts";
export * from "./sse.ts";
