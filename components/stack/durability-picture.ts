/**
 * The stack's durability as declared (docs/durability.md): every server's sync mode and loss
 * window, and the preview warnings for each opt-in window (a server not at `always`, a stream
 * with `persist_mode: async`). Pure.
 */
import { lossWindowWarnings, serverDurability, type AsyncStream, type ServerDurability } from "../config/durability";
import type { StackModel } from "./stack-model";

export type DurabilityPicture = { readonly servers: readonly ServerDurability[]; readonly warnings: readonly string[] };

export function durabilityPicture(m: Pick<StackModel, "topology" | "jetstream">): DurabilityPicture {
  const instances = m.topology.hosts.flatMap((h) => h.instances);
  const servers = serverDurability(instances);
  const syncOf = new Map(instances.map((i) => [i.serverName, i.jetstream.syncInterval]));
  const asyncStreams: AsyncStream[] = m.jetstream.streams
    .filter((s) => s.config.persist_mode === "async")
    .flatMap((s) => s.location.serverNames.map((server) => ({ stream: s.config.name, server, syncInterval: syncOf.get(server) ?? "always" })));
  return { servers, warnings: lossWindowWarnings(servers, asyncStreams) };
}
