/**
 * Which changes of one run would drop data, decided once for the whole run (pure: the live facts
 * come in as data). The removal guard runs this in `check` — the first step of every `up`,
 * with or without a preview — and the teardown gate in its `delete`, the first step of a
 * `destroy`; a refusal there means no step of the run has started, so nothing changes anywhere.
 *
 * A change drops data when it removes or replaces a store whose live stream holds user data
 * (user-data.ts): removed from `cim-nats:jetstream`, removed with its host, or replaced because a
 * setting the server cannot change in place changed.
 */
import { KV_STORE_KIND } from "./kv-config";
import { OBJECT_STORE_KIND } from "./object-store-config";
import { formatId } from "./resource-id";
import { STREAM_STORE_KIND } from "./stream-config";
import type { StreamConfig } from "./stream-config";

/** A store as the guard sees it live (user-data.ts asks the server). */
export type LiveStore = {
  /** Messages of data no declaration puts back (user-data.ts). */
  readonly userMessages: number;
  /** All messages in its stream. */
  readonly messages: number;
  /** The stream's config as the server reports it (normalized). */
  readonly config: StreamConfig;
};

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
  /** Its Pulumi resource's name (for messages). Absent in states recorded before it existed. */
  readonly resource?: string;
  /** The servers of its domain (for messages). */
  readonly servers?: readonly string[];
  /** The declared config, wire names (as its resource gets it): what a replacement is judged on. */
  readonly config?: Readonly<Record<string, unknown>>;
  /** KV buckets: the declared entries, key → sha256 of the value (not user data). */
  readonly entries?: Readonly<Record<string, string>>;
};

/** Each declared kind of store, by the name StoreRef gives it. */
export const STORE_KINDS = { stream: STREAM_STORE_KIND, kv: KV_STORE_KIND, objects: OBJECT_STORE_KIND } as const;

/** The JetStream stream that holds a store (`KV_<bucket>`, `OBJ_<bucket>`, or the stream itself). */
export function storeStreamName(store: Pick<StoreRef, "kind" | "name">): string {
  return STORE_KINDS[store.kind].streamName(store.name);
}

/** The id its store resource has (`stream:<domain>/<name>`…): approvals are recorded by it. */
export function storeResourceId(store: Pick<StoreRef, "kind" | "name" | "domain">): string {
  return formatId(STORE_KINDS[store.kind].idKind, store.domain, store.name);
}

export const storeKey = (s: Pick<StoreRef, "kind" | "domain" | "name">) => `${s.kind}:${s.domain}/${s.name}`;

/** Stores in `before` that `after` no longer declares. */
export function removedStores(before: readonly StoreRef[], after: readonly StoreRef[]): StoreRef[] {
  const kept = new Set(after.map(storeKey));
  return before.filter((s) => !kept.has(storeKey(s)));
}

/** A change that would drop the user data of one store. */
export type DataLossChange = {
  readonly store: StoreRef;
  readonly change: "remove" | "replace";
  /** Why, for the message: "its host nats-1 leaves the topology", "storage cannot change …". */
  readonly because: string;
  readonly userMessages: number;
};

/**
 * The run's changes that delete messages: each removal or replacement of a store that holds any.
 * Those with `userMessages` > 0 drop user data (refused unless allowed); the others hold only
 * what the stack declares again (approved, so the store's own delete guard lets them go). `live` holds each store's live facts by storeKey: a LiveStore,
 * undefined when the stream is gone, "unreachable" when its servers did not answer (absent: not
 * asked). `goneDomains`: domains whose host leaves the topology in this run.
 */
export function dataLossChanges(
  before: readonly StoreRef[],
  after: readonly StoreRef[],
  live: ReadonlyMap<string, LiveStore | undefined | "unreachable">,
  goneDomains: ReadonlySet<string>,
): DataLossChange[] {
  const out: DataLossChange[] = [];
  for (const store of removedStores(before, after)) {
    const l = live.get(storeKey(store));
    if (!l || l === "unreachable" || l.messages === 0) continue;
    const because = goneDomains.has(store.domain) ? `its host ${store.servers?.join(", ") || store.domain} leaves the topology` : "it was removed from cim-nats:jetstream";
    out.push({ store, change: "remove", because, userMessages: l.userMessages });
  }
  for (const store of after) {
    const l = live.get(storeKey(store));
    if (!l || l === "unreachable" || l.messages === 0 || !store.config) continue;
    const reasons = replaceReasons(store, l);
    if (reasons.length > 0) out.push({ store, change: "replace", because: reasons.join("; "), userMessages: l.userMessages });
  }
  return out;
}

/** Why the declared config replaces the live store: the same rule its resource's diff applies. */
function replaceReasons(store: StoreRef, l: LiveStore): string[] {
  const kind = STORE_KINDS[store.kind] as (typeof STORE_KINDS)["stream"];
  const current = kind.normalize(kind.fromStream(l.config) as never);
  const desired = kind.normalize(store.config as never);
  return Object.values(kind.replaceReasons(current, desired)).filter((r): r is string => typeof r === "string");
}

const NOUN = { stream: "stream", kv: "KV bucket", objects: "object bucket" } as const;

/** `stream PERSON_EVENTS at leaf nats-1 (resource stream-PERSON_EVENTS-nats-1)`. */
export function describeStore(s: StoreRef): string {
  const where = s.level === "leaf" ? `leaf ${s.servers?.join(", ") || s.domain}` : `the hub (domain ${s.domain}${s.servers?.length ? `, servers ${s.servers.join(", ")}` : ""})`;
  return `${NOUN[s.kind]} ${s.name} at ${where}${s.resource ? ` (resource ${s.resource})` : ""}`;
}

/** One line per change: what, where, how much, why it would go, and the fix. */
export function refusalLine(c: DataLossChange): string {
  const n = `${c.userMessages} message${c.userMessages === 1 ? "" : "s"}`;
  const backup = c.store.kind === "stream" ? `nats stream backup ${c.store.name}` : c.store.kind === "kv" ? `nats kv ls ${c.store.name}` : `nats object ls ${c.store.name}`;
  const fix =
    c.change === "replace"
      ? `revert that change; or back its data up (${backup}) and set cim-nats:allowDataLoss: true for this up`
      : c.because.startsWith("its host")
        ? "keep the host; or back its data up, empty the store (docs/changes.md, \"Retire a leaf\") and run again; or set cim-nats:allowDataLoss: true for this up"
        : `keep it declared; or back its data up (${backup}), empty it, and run again; or set cim-nats:allowDataLoss: true for this up`;
  return `${describeStore(c.store)} holds ${n}; ${c.change === "replace" ? "replacing" : "removing"} it (${c.because}) would delete them. Nothing was changed. Fix: ${fix}.`;
}
