/**
 * `RemovalGuard`: the declared JetStream stores of a stack as one small resource whose job is the
 * risky part of changing them — decided first, for the whole run, and refused before anything
 * changes.
 *
 * - `check` runs before any other step that could change something (every server and store
 *   waits for this resource), on every path: `preview`, `up`, `up --skip-preview` (`npm start`).
 *   It asks the live servers about every store the run would remove (from `cim-nats:jetstream`,
 *   or with its host) or replace (a setting the server cannot change in place), and fails with
 *   one line per store holding user data (data-loss-plan.ts) unless the stack allows data loss.
 *   A failed check stops the run before its first step: nothing is deployed, nothing is lost,
 *   no leaf drops a `deny_imports` entry. Allowed changes are recorded for the stores' own
 *   deletes (data-loss.ts), and so are the domains whose hosts leave (their unreachable stores
 *   go with the host's data).
 * - `update` deletes the removed leaf stores (guarded the same way) before the servers drop
 *   their `deny_imports`: Pulumi deletes removed resources last, after every update, so the
 *   leaves would otherwise stop guarding a stream that still exists.
 *
 * A store whose servers cannot be reached is not refused here (its own delete still guards its
 * data); `allowDataLoss` and the declared configs are read at check time, so changing them alone
 * is no update of this resource.
 */
import * as pulumi from "@pulumi/pulumi";
import { deepEqual } from "../provider/canonical";
import { UnreachableError } from "./connection-pool";
import { approveReplacement, markDomainsGoing, markRunAllowsDataLoss } from "./data-loss";
import { dataLossChanges, describeStore, refusalLine, removedStores, storeKey, storeResourceId, storeStreamName, type StoreRef } from "./data-loss-plan";
import { liveChecksDisabled } from "./liveness";
import { dynamicProvider, providerExports } from "../provider/provider-loader";
import { deleteStreamGuarded } from "./stream-requests";
import type { ConnectionTarget } from "./types";
import { liveStore, type LiveStore } from "./user-data";

export { removedStores, storeStreamName, type StoreRef } from "./data-loss-plan";

export type RemovalGuardInputs = {
  readonly stores: readonly StoreRef[];
  /** JetStream domain → how to reach it (credentials included; secret). */
  readonly targets: Readonly<Record<string, ConnectionTarget>>;
  /** `cim-nats:allowDataLoss`: removing or replacing a store that holds data is allowed. */
  readonly allowDataLoss: boolean;
};

export type RemovalGuardOutputs = RemovalGuardInputs;

/** Domains in `before`'s targets that `after` has no longer: their hosts leave the topology. */
export function goneDomains(before: Pick<RemovalGuardInputs, "targets"> | undefined, after: Pick<RemovalGuardInputs, "targets">): Set<string> {
  const kept = new Set(Object.keys(after.targets ?? {}));
  return new Set(Object.keys(before?.targets ?? {}).filter((d) => !kept.has(d)));
}

/** Live facts of each store (by storeKey), asked in parallel; "unreachable" when its servers do not answer. */
export async function askLive(stores: readonly { store: StoreRef; target: ConnectionTarget | undefined }[]): Promise<Map<string, LiveStore | undefined | "unreachable">> {
  type Answer = LiveStore | undefined | "unreachable";
  const answers = await Promise.all(
    stores.map(async ({ store, target }): Promise<[string, Answer]> => {
      if (!target) return [storeKey(store), "unreachable"];
      try {
        return [storeKey(store), await liveStore(target, storeStreamName(store), store.kind === "kv" ? store.name : undefined, store.entries)];
      } catch {
        return [storeKey(store), "unreachable"];
      }
    }),
  );
  return new Map(answers);
}

/** Every change of this run that would drop data, as one check failure each (empty when none, or allowed). */
export async function removalFailures(olds: RemovalGuardInputs | undefined, news: RemovalGuardInputs): Promise<pulumi.dynamic.CheckFailure[]> {
  // Offline planning (CIM_NATS_OFFLINE=1) asks no server; the stores' own deletes still guard their data.
  if (!olds?.stores || liveChecksDisabled()) return [];
  const gone = goneDomains(olds, news);
  const removed = removedStores(olds.stores, news.stores ?? []);
  const live = await askLive([
    ...removed.map((store) => ({ store, target: olds.targets?.[store.domain] })),
    ...(news.stores ?? []).filter((s) => s.config).map((store) => ({ store, target: news.targets?.[store.domain] })),
  ]);
  const changes = dataLossChanges(olds.stores, news.stores ?? [], live, gone);
  const losing = changes.filter((c) => c.userMessages > 0);
  if (losing.length > 0 && news.allowDataLoss !== true) {
    // No property: Pulumi then prints the reason alone, not a dump of the whole `stores` value.
    return losing.map((c) => ({ property: "", reason: refusalLine(c) }));
  }
  // Approved for the stores' own deletes: allowed losses, and stores holding only what the stack
  // declares (a KV bucket's own entries and markers) whose raw count their guard would refuse.
  for (const c of changes) approveReplacement(storeResourceId(c.store));
  if (news.allowDataLoss === true) markRunAllowsDataLoss();
  markDomainsGoing(gone);
  return [];
}

export async function checkRemovalGuard(olds: RemovalGuardInputs | undefined, news: RemovalGuardInputs): Promise<pulumi.dynamic.CheckResult> {
  return { inputs: news, failures: await removalFailures(olds, news) };
}

/** Changes only when the set of stores or the targets change: `allowDataLoss` and configs are read at check time. */
export async function diffRemovalGuard(_id: string, olds: RemovalGuardOutputs, news: RemovalGuardInputs): Promise<pulumi.dynamic.DiffResult> {
  const changed = removedStores(olds.stores ?? [], news.stores ?? []).length > 0 || removedStores(news.stores ?? [], olds.stores ?? []).length > 0;
  // Targets matter too: update reads the old ones to reach a removed store's servers.
  return { changes: changed || !deepEqual(olds.targets, news.targets) };
}

export async function createRemovalGuard(inputs: RemovalGuardInputs): Promise<{ id: string; outs: RemovalGuardOutputs }> {
  return { id: "jetstream-removal-guard", outs: inputs };
}

export async function readRemovalGuard(id: string, props?: RemovalGuardOutputs): Promise<pulumi.dynamic.ReadResult<RemovalGuardOutputs>> {
  return { id, props };
}

/** Deletes the removed leaf stores (guarded) before the servers that depend on this guard change. */
export async function updateRemovalGuard(_id: string, olds: RemovalGuardOutputs, news: RemovalGuardInputs): Promise<{ outs: RemovalGuardOutputs }> {
  for (const store of removedStores(olds.stores ?? [], news.stores ?? [])) {
    if (store.level !== "leaf") continue;
    const target = olds.targets?.[store.domain];
    if (!target) continue;
    try {
      await deleteStreamGuarded(target, storeStreamName(store), storeResourceId(store), news.allowDataLoss, describeStore(store));
    } catch (e) {
      // Unreachable: its server is going away too (or is down): its own resource's delete handles it.
      if (e instanceof UnreachableError) continue;
      throw e;
    }
  }
  return { outs: news };
}

export async function deleteRemovalGuard(): Promise<void> {
  // Bookkeeping only: the stores are deleted by their own resources.
}

export const removalGuardProvider = dynamicProvider(__filename, providerExports("RemovalGuard"));

export type RemovalGuardArgs = {
  readonly stores: pulumi.Input<readonly StoreRef[]>;
  readonly targets: pulumi.Input<Readonly<Record<string, pulumi.Input<ConnectionTarget>>>>;
  readonly allowDataLoss: pulumi.Input<boolean>;
};

/** Refuses data-losing removals and replacements before the run's first step, and deletes removed leaf stores before the servers change. */
export class RemovalGuard extends pulumi.dynamic.Resource {
  constructor(name: string, args: RemovalGuardArgs, opts?: pulumi.CustomResourceOptions) {
    super(removalGuardProvider, name, { ...args, targets: pulumi.secret(args.targets) }, { ...opts, additionalSecretOutputs: ["targets"] }, "jetstream", "RemovalGuard");
  }
}
