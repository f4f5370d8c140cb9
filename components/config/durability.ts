/**
 * Default `jetstream.sync_interval` per tier: how often nats-server fsyncs its file store. An
 * acked write not yet fsynced is lost when the machine (not just the process) goes down.
 * Chosen from bench/leaf-sync.ts on the pinned nats-server (docs/prod.md, "Durability"): at a
 * leaf, 1s costs 5-10% of nats-server's default (2m) acked publish rate, `always` 69-87%.
 */

/**
 * Leaves: an R1 store holds the only copy of an event until the hub has sourced it, so a crash
 * loses at most about a second of acked events instead of up to two minutes.
 */
export const LEAF_SYNC_DEFAULT = "1s";
/**
 * Hub members: nats-server's own default. Every hub write is on three Proxmox nodes, so losing it
 * takes all three going down within the interval (a site power loss); not measured at the hub.
 */
export const HUB_SYNC_DEFAULT = "2m";
