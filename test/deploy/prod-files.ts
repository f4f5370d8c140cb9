/** Stand-in rendered files for the prod hosts: an entry point, a module, a host file, and a leaf's creds (secret Output). */
import * as pulumi from "@pulumi/pulumi";
import { HostFiles } from "../../components/deploy/files";
import { Role, Topology } from "../../components/topology/types";

export const ENTRY_PATH = "/etc/nixos/configuration.nix";
export const MODULE_PATH = "/etc/nixos/cim-nats/modules/cim-nats.nix";
export const HOST_PATH = "/etc/nixos/cim-nats/host.nix";
export const credsPath = (leaf: string) => `/var/lib/cim-nats/secrets/${leaf}-leaf.creds`;
export const credsOf = (leaf: string, version = "") => `-----BEGIN NATS USER JWT-----\neyJ0eXAi.${leaf}${version}\n------END NATS USER JWT------\n`;

/** `hostFileSuffix` changes one host's host file (host name → extra line); `credsVersion` one leaf's creds. */
export function prodFiles(
  topology: Topology,
  hostFileSuffix: Readonly<Record<string, string>> = {},
  credsVersion: Readonly<Record<string, string>> = {},
): HostFiles<pulumi.Input<string>>[] {
  return topology.hosts.map((h) => ({
    host: h.name,
    files: [
      { path: ENTRY_PATH, content: "{ ... }: { imports = [ ./cim-nats/host.nix ]; }\n", mode: "0644", secret: false },
      { path: MODULE_PATH, content: "{ config, lib, pkgs, ... }: { }\n", mode: "0644", secret: false },
      { path: HOST_PATH, content: `# ${h.name}\n{ ... }: { imports = [ ./modules/cim-nats.nix ]; }\n${hostFileSuffix[h.name] ?? ""}`, mode: "0644", secret: false },
      ...(h.roles.includes(Role.Leaf) ? [{ path: credsPath(h.name), content: pulumi.secret(credsOf(h.name, credsVersion[h.name])), mode: "0600", secret: true }] : []),
    ],
  }));
}
