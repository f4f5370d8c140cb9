/**
 * `cim-nats:proxmox.nixos` (validated by the schema, schema.ts) → the containers' NixOS
 * system spec: the nixpkgs pin (url + sha256 of the unpacked tree) and `nix.gc`, with defaults. Pure.
 */
import type { z } from "zod";
import type { nixosSchema } from "./schema";
import type { Loose } from "../config/validate";
import { DEFAULT_NIX_GC, DEFAULT_NIXPKGS_PIN, type NixosSystemSpec } from "../deploy/nixos-system";

export function nixosSpec(v: Loose<z.output<typeof nixosSchema>> | undefined): NixosSystemSpec {
  const pin = v?.nixpkgs;
  return {
    nixpkgs: pin ? { url: pin.url ?? "", sha256: pin.sha256 ?? "" } : DEFAULT_NIXPKGS_PIN,
    gc: { ...DEFAULT_NIX_GC, ...v?.gc },
    ...(v?.builders ? { builders: v.builders } : {}),
  };
}
