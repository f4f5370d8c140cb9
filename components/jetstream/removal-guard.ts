/**
 * `RemovalGuard`: the declared JetStream stores of a stack as one small resource whose job is the
 * risky part of removing one — first, and refused before anything changes.
 *
 * Pulumi deletes removed resources last, after every create and update. Removing a leaf-local
 * stream therefore used to re-render the leaves without its subjects in `deny_imports` (an
 * update) before the stream's own delete ran; when that delete was refused (it held data), the
 * leaves kept a stream whose interest crossed the leaf links again, and every leaf stored every
 * other leaf's events. The servers now depend on this guard, so its steps run before theirs:
 *
 * - `check` (runs at `preview` and before any step of `up`): for each store that left the
 *   config — removed from `cim-nats:jetstream`, or its host removed — ask the live server; if it
 *   holds messages and the stack does not allow data loss, fail naming the store, the count and
 *   the fix. Nothing is deployed, nothing is lost, the event flow stays as it was.
 * - `update`: delete the removed stores at the leaves (guarded the same way) before the servers
 *   drop their `deny_imports`; each store's own resource then finds it gone, which is success.
 *
 * A server that cannot be reached cannot hold a misrouting stream either, so an unreachable
 * store is not a refusal here; its own resource's delete still guards its data.
 */
import * as pulumi from "@pulumi/pulumi";
import { deepEqual } from "./canonical";
import { KV_STORE_KIND } from "./kv-config";
import { liveChecksDisabled } from "./liveness";
import { OBJECT_STORE_KIND } from "./object-store-config";
import { dynamicProvider } from "./provider-loader";
import { STREAM_STORE_KIND } from "./stream-config";
import { deleteStreamGuarded, streamInfo } from "./stream-requests";
import type { ConnectionTarget } from "./types";

/** One declared store in one JetStream domain, by the name of the stream that holds it. */
export type StoreRef = {
  /** What the user declared: a stream (or aggregate), a KV bucket or an object bucket. */
  readonly kind: "stream" | "kv" | "objects";
  /** The declared name (stream name or bucket). */
  readonly name: string;
  /** The JetStream domain it lives in. */
  readonly domain: string;
  /** `leaf` or `hub`: removed leaf stores are deleted before the servers change. */
  readonly level: "leaf" | "hub";
};

export type RemovalGuardInputs = {
  readonly stores: readonly StoreRef[];
  /** JetStream domain → how to reach it (credentials included; secret). */
  readonly targets: Readonly<Record<string, ConnectionTarget>>;
  /** `cim-nats:allowDataLoss`: removing a store that holds messages is allowed. */
  readonly allowDataLoss: boolean;
};

export type RemovalGuardOutputs = RemovalGuardInputs;

/** Each declared kind of store, by the name StoreRef gives it. */
const STORE_KINDS = { stream: STREAM_STORE_KIND, kv: KV_STORE_KIND, objects: OBJECT_STORE_KIND } as const;

/** The JetStream stream that holds a store (`KV_<bucket>`, `OBJ_<bucket>`, or the stream itself). */
export function storeStreamName(store: Pick<StoreRef, "kind" | "name">): string {
  return STORE_KINDS[store.kind].streamName(store.name);
}

const storeKey = (s: StoreRef) => `${s.kind}:${s.domain}/${s.name}`;

/** Stores in `before` that `after` no longer declares (pure). */
export function removedStores(before: readonly StoreRef[], after: readonly StoreRef[]): StoreRef[] {
  const kept = new Set(after.map(storeKey));
  return before.filter((s) => !kept.has(storeKey(s)));
}

function describeStore(s: StoreRef): string {
  const what = s.kind === "stream" ? "stream" : s.kind === "kv" ? "KV bucket" : "object bucket";
  return `${what} ${s.name} in domain ${s.domain}`;
}

/** Messages a store holds now; undefined when it is gone or its servers cannot be reached. */
async function liveMessages(target: ConnectionTarget | undefined, store: StoreRef): Promise<number | undefined> {
  if (!target) return undefined;
  try {
    const info = await streamInfo(target, storeStreamName(store));
    return info?.state.messages;
  } catch {
    return undefined;
  }
}

/** Every removal that would drop data, as Pulumi check failures (empty when none). */
export async function removalFailures(olds: RemovalGuardInputs | undefined, news: RemovalGuardInputs): Promise<pulumi.dynamic.CheckFailure[]> {
  // Offline planning (CIM_NATS_OFFLINE=1) asks no server; the stores' own deletes still guard their data.
  if (!olds?.stores || news.allowDataLoss === true || liveChecksDisabled()) return [];
  const failures: pulumi.dynamic.CheckFailure[] = [];
  for (const store of removedStores(olds.stores, news.stores ?? [])) {
    const messages = await liveMessages(olds.targets?.[store.domain], store);
    if (!messages) continue;
    failures.push({
      property: "stores",
      reason:
        `${describeStore(store)} holds ${messages} message${messages === 1 ? "" : "s"}; removing it (from cim-nats:jetstream, or with its host) would delete them. ` +
        "Nothing was changed. Keep it declared; or move or back up its data, then set cim-nats:allowDataLoss: true for the change that removes it.",
    });
  }
  return failures;
}

export async function checkRemovalGuard(olds: RemovalGuardInputs | undefined, news: RemovalGuardInputs): Promise<pulumi.dynamic.CheckResult> {
  return { inputs: news, failures: await removalFailures(olds, news) };
}

export async function diffRemovalGuard(_id: string, olds: RemovalGuardOutputs, news: RemovalGuardInputs): Promise<pulumi.dynamic.DiffResult> {
  const changed = removedStores(olds.stores ?? [], news.stores ?? []).length > 0 || removedStores(news.stores ?? [], olds.stores ?? []).length > 0;
  // Targets matter too: update reads the old ones to reach a removed store's servers.
  return { changes: changed || olds.allowDataLoss !== news.allowDataLoss || !deepEqual(olds.targets, news.targets) };
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
    const name = storeStreamName(store);
    try {
      await deleteStreamGuarded(target, name, `removal-guard:${storeKey(store)}`, news.allowDataLoss, describeStore(store));
    } catch (e) {
      if ((e as Error).name === "DataLossError") throw e;
      // Unreachable (its server is going away too): its own resource's delete handles it.
    }
  }
  return { outs: news };
}

export async function deleteRemovalGuard(): Promise<void> {
  // Bookkeeping only: the stores are deleted by their own resources.
}

export const removalGuardProvider = dynamicProvider(__filename, {
  check: "checkRemovalGuard",
  diff: "diffRemovalGuard",
  create: "createRemovalGuard",
  read: "readRemovalGuard",
  update: "updateRemovalGuard",
  delete: "deleteRemovalGuard",
});

export type RemovalGuardArgs = {
  readonly stores: pulumi.Input<readonly StoreRef[]>;
  readonly targets: pulumi.Input<Readonly<Record<string, pulumi.Input<ConnectionTarget>>>>;
  readonly allowDataLoss: pulumi.Input<boolean>;
};

/** Refuses data-losing removals at preview and deletes removed leaf stores before the servers change. */
export class RemovalGuard extends pulumi.dynamic.Resource {
  constructor(name: string, args: RemovalGuardArgs, opts?: pulumi.CustomResourceOptions) {
    super(removalGuardProvider, name, { ...args, targets: pulumi.secret(args.targets) }, { ...opts, additionalSecretOutputs: ["targets"] }, "jetstream", "RemovalGuard");
  }
}
