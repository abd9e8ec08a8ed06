/**
 * Everything about certificates and TLS: the deployment CA and the
 * certificates it issues, loading and checking a node's certificate
 * material, and mutually authenticated listening and connecting. The only
 * owner of `node:tls` and `node:https`.
 *
 * @module
 */

export * from "./ca.ts";
export * from "./ca_index.ts";
export * from "./crl.ts";
export * from "./files.ts";
export * from "./mtls.ts";
export * from "./peer.ts";
export * from "./revocation.ts";
export * from "./shared_key_certs.ts";
export * from "./verdict.ts";
