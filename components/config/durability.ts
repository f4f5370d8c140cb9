/**
 * What "acked" promises at each server: the `jetstream.sync_interval` defaults per tier and the
 * loss window any other setting opens (docs/durability.md). nats-server acks a write once it is
 * in its file store, but fsyncs only every sync_interval unless it is `always`: a process crash
 * loses nothing (the kernel holds the write), a power failure or kernel crash loses every acked
 * write since the last fsync. Pure: no I/O.
 */

/**
 * Leaves: `always`. A leaf's R1 stream is the system of record, the only copy of an event until
 * the hub has sourced it. Measured on LazyFS (docs/durability.md): a power failure right after a
 * burst lost every event of the last second at 1s and none at `always`; a leaf that comes back
 * shorter also hands out sequence numbers the hub has already sourced (a "sequence rewind").
 */
export const LEAF_SYNC_DEFAULT = "always";
/**
 * Hub members: `always`. They hold the aggregate and the hub's primary streams (projections,
 * patterns, KV): those are acked to services and exist nowhere else. R3 does not help when all
 * members lose power together (one site): at 2m a coordinated power failure lost every
 * projection acked in the 2 minutes before. sync_interval is per server, so the aggregate shares it.
 */
export const HUB_SYNC_DEFAULT = "always";

/** nats-server's own sync_interval (filestore.go defaultSyncInterval); also its interval for `persist_mode: async` streams on an `always` server. */
export const NATS_DEFAULT_SYNC = "2m";

/** How much acked data a server can lose, and why. */
export type LossWindow = {
  /** `none`: fsync before every ack; `interval`: up to one sync interval of acked writes. */
  readonly kind: "none" | "interval";
  /** The sync_interval as configured (`always` or a duration). */
  readonly syncInterval: string;
  /** One line for previews, outputs and verify. */
  readonly text: string;
};

/** The loss window of a server running `sync_interval: <syncInterval>`. */
export function lossWindow(syncInterval: string): LossWindow {
  if (syncInterval === "always") return { kind: "none", syncInterval, text: "always: every acked write is fsynced first; a power failure loses none" };
  return { kind: "interval", syncInterval, text: `${syncInterval}: a power failure or kernel crash can lose up to ${syncInterval} of acked writes (opt-in; the default is always)` };
}

/** One server's durability as declared: what previews, outputs and verify state. */
export type ServerDurability = {
  readonly server: string;
  readonly kind: "leaf" | "hub";
  readonly syncInterval: string;
  readonly lossWindow: string;
};

/** Every server's declared sync mode and loss window, leaves first. */
export function serverDurability(servers: readonly { readonly serverName: string; readonly kind: "leaf" | "hub"; readonly jetstream: { readonly syncInterval: string } }[]): ServerDurability[] {
  return [...servers]
    .sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "leaf" ? -1 : 1))
    .map((s) => ({ server: s.serverName, kind: s.kind, syncInterval: s.jetstream.syncInterval, lossWindow: lossWindow(s.jetstream.syncInterval).text }));
}

/** A stream that opts out of its server's sync with `persist_mode: async` (R1 file streams only). */
export type AsyncStream = { readonly stream: string; readonly server: string; readonly syncInterval: string };

/**
 * Warnings a preview prints for every opt-in loss window: servers not at `always`, and streams
 * with `persist_mode: async` (nats-server buffers their writes and acks first: even a process
 * crash can lose the newest, and they are fsynced only every interval — 2m on an `always` server).
 */
export function lossWindowWarnings(servers: readonly ServerDurability[], asyncStreams: readonly AsyncStream[] = []): string[] {
  const lazy = servers.filter((s) => s.syncInterval !== "always");
  const out = lazy.map(
    (s) =>
      `durability: ${s.kind} server ${s.server} runs sync_interval ${s.syncInterval}: a power failure or kernel crash can lose up to ${s.syncInterval} of acked writes ` +
      `(opt-in loss window; set its syncInterval to 'always' to acknowledge only what is on disk; docs/durability.md)`,
  );
  for (const a of asyncStreams) {
    const interval = a.syncInterval === "always" ? NATS_DEFAULT_SYNC : a.syncInterval;
    out.push(
      `durability: stream ${a.stream} on ${a.server} has persist_mode async: acks come before the write, so a crash of the server can lose its newest acked writes and a power failure up to ${interval} of them ` +
        `(opt-in loss window; remove persist_mode to acknowledge only what is on disk; docs/durability.md)`,
    );
  }
  return out;
}
