/**
 * `container-unprivileged-protected`: every Proxmox container is unprivileged (its root is not
 * the node's root), carries Proxmox's `protection` flag (the API refuses to remove it or its
 * disks) and Pulumi's `protect` option (a destroy or a removed host fails instead of deleting it).
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { CONTAINER_TYPES } from "../resource-types";
import { what } from "./props";

export const containerGuard: ResourceValidationPolicy = {
  name: "container-unprivileged-protected",
  description: "Proxmox containers are unprivileged, have protection: true and Pulumi's protect option.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (!CONTAINER_TYPES.includes(args.type)) return;
    if (args.props.unprivileged !== true) {
      report(`container ${what(args)} is privileged (unprivileged: ${String(args.props.unprivileged)}): its root would be the Proxmox node's root. Fix: unprivileged: true (components/proxmox/container-args.ts).`);
    }
    if (args.props.protection !== true) {
      report(`container ${what(args)} has protection: ${String(args.props.protection)}: Proxmox would let anyone remove it and its data volume. Fix: cim-nats:proxmox.protect: true (the default).`);
    }
    if (args.opts.protect !== true) {
      report(`container ${what(args)} lacks Pulumi's protect option: a destroy or a removed host would delete it and the leaf's only copy of its streams. Fix: cim-nats:proxmox.protect: true (the default); lift it only for a deliberate removal.`);
    }
  },
};
