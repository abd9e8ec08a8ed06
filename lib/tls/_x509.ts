/**
 * The certificate library, loaded only by the commands that make or check
 * certificates: it is most of orch's start-up time, and `orch submit` over
 * the local socket needs none of it.
 *
 * @module
 */

import "reflect-metadata";
export * from "@peculiar/x509";
