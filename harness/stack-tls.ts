/**
 * How a test's client reaches a server the stack started: every listener requires TLS by
 * default (`cim-nats:tls {mode: generated}`), and clients verify the server with the stack's CA,
 * the public `tls.caCert` output. nats.js gets it through natsClientTls (the same options the
 * stack's own clients use); natscli gets a CA file (`--tlsca`).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { natsClientTls, type NatsClientTls } from "../components/tls/client";

/** The stack CA (PEM) from `pulumi stack output --json`; throws when the stack has none (TLS off). */
export function stackCa(outputs: Readonly<Record<string, unknown>>): string {
  const tls = outputs.tls as { mode?: string; caCert?: string | null } | undefined;
  if (!tls?.caCert) throw new Error(`the stack has no CA in its 'tls' output (${JSON.stringify(tls)}): its servers do not require TLS`);
  return tls.caCert;
}

/** nats.js `tls` options for a client of `servers`, trusting only the stack's CA. */
export function stackClientTls(caPem: string, servers: string | readonly string[]): NatsClientTls {
  return natsClientTls(caPem, typeof servers === "string" ? [servers] : servers);
}

/** Writes the CA to `<dir>/ca.pem` (for natscli's `--tlsca`) and returns its path. */
export function writeCaFile(dir: string, caPem: string): string {
  const file = path.join(dir, "ca.pem");
  fs.writeFileSync(file, caPem, { mode: 0o644 });
  return file;
}
