/**
 * Default `jetstream.sync_interval` per tier: how often nats-server fsyncs its file store. An
 * acked write that is not yet fsynced is lost when the machine (not just the process) goes down.
 * Chosen from bench/leaf-sync.ts on the pinned nats-server; docs/prod.md "Durability" has the figures.
 */

/** Leaves: an R1 store holds the only copy of an event until the hub has sourced it. */
export const LEAF_SYNC_DEFAULT = "1s";
/** Hub members: R3 across three Proxmox nodes, so losing one node's unsynced tail loses nothing. */
export const HUB_SYNC_DEFAULT = "2m";
