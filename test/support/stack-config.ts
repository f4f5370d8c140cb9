/** Reads a stack's Pulumi.<stack>.yaml the way `pulumi config` sees it, for tests. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";

export type StackConfig = {
  readonly substrate: string;
  readonly topology: unknown;
  readonly jetstream: unknown;
  readonly security: unknown;
  readonly proxmox: unknown;
};

export const PROJECT_ROOT = join(__dirname, "..", "..");

/** The `cim-nats:*` keys of Pulumi.<stack>.yaml without the prefix. */
export function readStackConfig(stack: "dev" | "prod"): StackConfig {
  const doc = load(readFileSync(join(PROJECT_ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
  const get = (k: string) => doc.config[`cim-nats:${k}`];
  return {
    substrate: String(get("substrate") ?? "proxmox"),
    topology: get("topology"),
    jetstream: get("jetstream"),
    security: get("security"),
    proxmox: get("proxmox"),
  };
}
