/**
 * What a resource kept in one JetStream stream is — a stream itself, a KV bucket (`KV_<bucket>`)
 * or an object bucket (`OBJ_<bucket>`): its canonical config, how that maps to and from the
 * stream's, and its diff rules and input checks. Pure data and functions; store-resource.ts
 * turns one into the resource's check/diff/create/read/update/delete.
 */
import type { InputFailure } from "./fields";
import type { ResourceKind } from "./resource-id";
import type { StreamConfig } from "./stream-config";

/** Resource-level inputs besides the config: where, whether data may be lost, whether to take over an existing one. */
export const STORE_RESOURCE_KEYS = ["target", "allowDataLoss", "adopt"] as const;

export type StoreKind<Config, Input> = {
  /** The id prefix: `stream:<domain>/<name>`, `kv:<domain>/<bucket>`, `object-store:<domain>/<bucket>`. */
  readonly idKind: Extract<ResourceKind, "stream" | "kv" | "object-store">;
  /** What messages call it: "stream", "kv bucket", "object bucket". */
  readonly noun: string;
  /** The config key holding the declared name. */
  readonly nameKey: "name" | "bucket";
  /** Config keys whose change replaces (also the ones an unknown value at preview may replace). */
  readonly replaceOnly: readonly string[];
  /** The stream that holds a store of this declared name. */
  readonly streamName: (name: string) => string;
  /** The full config with every default filled in, from inputs or from outputs. */
  readonly normalize: (input: Input) => Config;
  readonly toStream: (config: Config) => StreamConfig;
  readonly fromStream: (stream: StreamConfig) => Config;
  /** Why `current` → `desired` needs a replacement, per key; empty when it changes in place. */
  readonly replaceReasons: (current: Config, desired: Config) => Partial<Record<string, string>>;
  /** One-way settings `desired` turns back off, each a message naming the fix. */
  readonly oneWayViolations: (current: Config, desired: Config, what: string) => string[];
  /** Problems with the config inputs; `extraKeys` are resource-level keys to accept. */
  readonly inputFailures: (input: Record<string, unknown>, extraKeys?: readonly string[], path?: string) => InputFailure[];
};
