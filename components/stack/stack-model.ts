/**
 * The whole stack config → one validated model: topology (with the leaf deny-imports derived
 * from the declared leaf-level stores), JetStream declarations, security, and — for the
 * proxmox substrate — the Proxmox spec. Pure. Every section is checked even when another has
 * problems, so one run shows every problem; then one ConfigError is thrown.
 */
import { leafLocalSubjects, parseJetStream, type JetStreamSpec } from "../jetstream/spec";
import { parseProxmox } from "../proxmox/parse";
import type { ProxmoxSecrets, ProxmoxSpec } from "../proxmox/config";
import { parseSecurity } from "../security/parse";
import type { SecuritySpec } from "../security/types";
import { parseTopology } from "../topology/parse";
import { parseTls } from "../tls/parse";
import type { TlsSpec } from "../tls/types";
import { withLeafDenyImports } from "../topology/rebase";
import { ConfigError, type ConfigIssue } from "../config/errors";
import { type Topology } from "../topology/types";

export const Substrate = { Proxmox: "proxmox", Local: "local" } as const;
export type Substrate = (typeof Substrate)[keyof typeof Substrate];

/** The `cim-nats:*` config values of one stack, as plain data. */
export type StackConfig = {
  readonly substrate?: unknown;
  readonly topology: unknown;
  readonly jetstream?: unknown;
  readonly security?: unknown;
  readonly proxmox?: unknown;
  /** `cim-nats:tls`; default { mode: generated }. */
  readonly tls?: unknown;
  /** `cim-nats:tlsCaKey` (secret, decrypted): the CA key of `tls.mode: provided`. */
  readonly tlsCaKey?: string;
};

export type StackModel = {
  readonly stack: string;
  readonly substrate: Substrate;
  readonly topology: Topology;
  readonly jetstream: JetStreamSpec;
  readonly security: SecuritySpec;
  /** Present for the proxmox substrate only. */
  readonly proxmox?: ProxmoxSpec;
  readonly tls: TlsSpec;
};

/** Validates every section; throws one ConfigError listing every problem. */
export function loadStackModel(stack: string, config: StackConfig, proxmoxSecrets: ProxmoxSecrets = {}): StackModel {
  const issues: ConfigIssue[] = [];
  const collect = <T>(parse: () => T): T | undefined => {
    try {
      return parse();
    } catch (e) {
      if (e instanceof ConfigError) {
        issues.push(...e.issues);
        return undefined;
      }
      throw e;
    }
  };

  const substrate = config.substrate ?? Substrate.Proxmox;
  if (substrate !== Substrate.Proxmox && substrate !== Substrate.Local) {
    issues.push({ propertyPath: "substrate", reason: `unknown substrate ${JSON.stringify(substrate)}: use 'proxmox' (LXC + NixOS) or 'local' (processes on loopback)` });
  }

  const bare = collect(() => parseTopology(config.topology, { name: stack }));
  if (!bare) throw new ConfigError(issues);

  const jetstream = collect(() => parseJetStream(config.jetstream, bare));
  const topology = withLeafDenyImports(bare, jetstream ? leafLocalSubjects(jetstream) : []);
  // Service bindings name streams, consumers and buckets: checked against the parsed JetStream
  // section (null when that section is itself invalid: its own issues are reported instead).
  const security = collect(() => parseSecurity(config.security, topology, jetstream ?? null));
  const proxmox = substrate === Substrate.Proxmox ? collect(() => parseProxmox(config.proxmox, topology, proxmoxSecrets)) : undefined;

  const tls = collect(() => parseTls(config.tls, config.tlsCaKey));

  if (issues.length > 0 || !jetstream || !security || !tls) throw new ConfigError(issues);
  return { stack, substrate: substrate as Substrate, topology, jetstream, security, tls, ...(proxmox ? { proxmox } : {}) };
}
