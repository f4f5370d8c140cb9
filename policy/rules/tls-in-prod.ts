/**
 * `tls-in-prod`: every nats-server of a prod stack (substrate proxmox) has TLS on every listener
 * it opens — clients, routes (`cluster`), the hub's leafnode listener and each leaf's remotes.
 * What it reads is what the servers will run: a dev server's rendered `configText`
 * (LocalNatsServer) and a prod host's `host.nix` (carried by the host's build command, which
 * builds the system from it: components/deploy/build-script.ts), whose
 * `services.cim-nats.instances.<kind>.settings` is the same config tree in Nix.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { embeddedFiles } from "../../components/deploy/build-script";
import { readRenderedConf } from "../../components/local/conf-reader";
import type { PolicyContext } from "../context";
import { nixAttribute, NixSubsetError, type NixData } from "../nix-settings";
import { TYPES } from "../resource-types";
import { isUnknownValueError, what } from "./props";

/** Where each host's build finds its host file (components/deploy/nixos-files.ts, NIXOS_DIR). */
export const HOST_NIX_PATH = "/etc/nixos/cim-nats/host.nix";

type Tree = { readonly [key: string]: unknown };

const isTree = (v: unknown): v is Tree => typeof v === "object" && v !== null && !Array.isArray(v);
const hasTls = (block: Tree): boolean => isTree(block.tls);

/** The listeners (and leaf remotes) of one nats-server config tree that carry no `tls` block. */
export function listenersWithoutTls(tree: Tree): string[] {
  const missing: string[] = [];
  if (!hasTls(tree)) missing.push("the client listener (top-level tls)");
  if (isTree(tree.cluster) && !hasTls(tree.cluster)) missing.push("cluster (routes)");
  const leafnodes = tree.leafnodes;
  if (isTree(leafnodes)) {
    if ((leafnodes.port !== undefined || leafnodes.listen !== undefined) && !hasTls(leafnodes)) missing.push("the leafnodes listener");
    const remotes = Array.isArray(leafnodes.remotes) ? leafnodes.remotes : [];
    remotes.forEach((r, i) => {
      if (isTree(r) && !hasTls(r)) missing.push(`leafnodes.remotes[${i}]`);
    });
  }
  for (const k of ["gateway", "websocket", "mqtt"]) {
    const b = tree[k];
    if (isTree(b) && !hasTls(b)) missing.push(k);
  }
  return missing;
}

/** Server name → config tree, from a `host.nix` text; undefined when it configures no cim-nats servers. */
export function hostNixServers(text: string): Record<string, Tree> | undefined {
  const svc = nixAttribute(text, "services.cim-nats") as { instances?: Record<string, { serverName?: NixData; settings?: NixData }> } | undefined;
  if (!svc || !isTree(svc.instances)) return undefined;
  return Object.fromEntries(
    Object.entries(svc.instances).map(([kind, inst]) => [String(inst.serverName ?? kind), (isTree(inst.settings) ? inst.settings : {}) as Tree]),
  );
}

export function tlsInProd(ctx: PolicyContext): ResourceValidationPolicy {
  return {
    name: "tls-in-prod",
    description: "Every nats-server listener (clients, routes, leafnodes) of a proxmox (prod) stack has a tls block.",
    enforcementLevel: "mandatory",
    configSchema: {
      properties: {
        substrates: { type: "array", items: { type: "string" }, default: ["proxmox"], description: "Substrates whose stacks must run TLS." },
      },
    },
    validateResource: async (args, report) => {
      if (args.type !== TYPES.localServer && args.type !== TYPES.localCommand) return;
      const substrates = args.getConfig<{ substrates?: string[] }>().substrates ?? ["proxmox"];
      const substrate = ctx.substrate();
      if (!substrates.includes(substrate)) args.notApplicable(`substrate '${substrate}' is not one of ${substrates.join(", ")}`);

      let servers: Record<string, Tree> | undefined;
      if (args.type === TYPES.localServer) {
        const tree = readRenderedConf(String(args.props.configText));
        if (!tree) {
          report(`${what(args)}: its configText is not a config cim-nats rendered, so TLS cannot be checked: render it with components/render`);
          return;
        }
        servers = { [String(args.props.serverName)]: tree };
      } else {
        let script: unknown;
        try {
          script = args.props.stdin;
        } catch (e) {
          if (!isUnknownValueError(e)) throw e;
          args.notApplicable("the host's files are not known until the stack's keys exist: checked again at up");
        }
        // Not a host's build (another local command): nothing to check.
        const text = typeof script === "string" ? embeddedFiles(script)[HOST_NIX_PATH] : undefined;
        if (text === undefined) return;
        try {
          servers = hostNixServers(text);
        } catch (e) {
          if (!(e instanceof NixSubsetError)) throw e;
          report(`${what(args)}: host.nix could not be read (${e.message}), so TLS cannot be checked`);
          return;
        }
        if (!servers) return;
      }
      for (const [server, tree] of Object.entries(servers ?? {})) {
        const missing = listenersWithoutTls(tree);
        if (missing.length === 0) continue;
        report(
          `nats-server '${server}' in ${what(args)} has no tls block on ${missing.join(", ")}: in a ${substrate} stack clients, routes and leaf links would run in plaintext. ` +
            "Fix: set cim-nats:tls to { mode: generated } (or provided); mode: off is for dev stacks only.",
        );
      }
    },
  };
}
