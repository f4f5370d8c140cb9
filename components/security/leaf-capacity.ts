/**
 * Whether the accounts' JetStream limits fit the leaves' own. Pure: no I/O, no Pulumi.
 */
import { Topology } from "../topology/types";
import { AccountSpec } from "./types";
import { parseByteSize } from "./units";
import type { At } from "../config/fields";

/**
 * A standalone (leaf) server enables JetStream for an account only if the account's limits fit
 * in its own `max_mem`/`max_file`, summed over every account (nats-server error 10028/10047,
 * "insufficient resources"); the leaf would then refuse every JetStream request of that
 * account. Hub members are clustered and don't check.
 */
export function jetStreamFitsLeaves(accounts: readonly AccountSpec[], topology: Topology, path: string, at: At): void {
  const limited = accounts.map((a, i) => ({ a, i })).filter(({ a }) => a.jetstream);
  if (limited.length === 0) return;
  const checks = [
    { key: "maxMemory", server: "max_mem", bytes: (a: AccountSpec) => a.jetstream!.memoryBytes, of: (l: Topology["leaves"][number]) => l.jetstream.maxMemory },
    { key: "maxFile", server: "max_file", bytes: (a: AccountSpec) => a.jetstream!.fileBytes, of: (l: Topology["leaves"][number]) => l.jetstream.maxFile },
  ] as const;
  for (const check of checks) {
    const total = limited.reduce((sum, { a }) => sum + Math.max(0, check.bytes(a)), 0);
    const tight = topology.leaves
      .map((leaf) => ({ leaf, bytes: parseByteSize(check.of(leaf)) }))
      .filter((x): x is { leaf: Topology["leaves"][number]; bytes: number } => typeof x.bytes === "number" && x.bytes >= 0 && total > x.bytes)
      .sort((x, y) => x.bytes - y.bytes)[0];
    if (!tight) continue;
    const where = limited.length === 1 ? `${path}[${limited[0].i}].jetstream.${check.key}` : path;
    const what = limited.length === 1 ? `account '${limited[0].a.name}' jetstream.${check.key}` : `the accounts' jetstream.${check.key} together`;
    at(
      where,
      `${what} (${total} bytes) exceeds leaf '${tight.leaf.serverName}' JetStream ${check.server} ${check.of(tight.leaf)} (${tight.bytes} bytes): ` +
        `a leaf server refuses JetStream for an account whose limits don't fit (nats-server error 10028, insufficient resources); ` +
        `lower it to at most ${check.of(tight.leaf)}, or set -1 to let the servers' own limits apply`,
    );
  }
}
