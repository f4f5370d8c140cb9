/**
 * Field checks shared by every JetStream resource's inputs (streams, buckets, consumers) and by
 * the `cim-nats:jetstream` parser: each returns problems with their property paths, empty when
 * valid. Pure: no I/O, no Pulumi.
 */
import { durationReason } from "./types";

/** One problem with resource inputs, in Pulumi's CheckFailure shape. */
export type InputFailure = { readonly property: string; readonly reason: string };

/** `key` under `path` ("" for the top level). */
export function propertyPath(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Keys outside `known` (plus resource-level `extraKeys`), each named with the known ones. */
export function unknownKeyFailures(input: Record<string, unknown>, known: readonly string[], extraKeys: readonly string[], what: string, path: string): InputFailure[] {
  const accepted = new Set<string>([...known, ...extraKeys]);
  return Object.keys(input)
    .filter((k) => !accepted.has(k))
    .map((k) => ({ property: propertyPath(path, k), reason: `unknown ${what} setting '${k}'; known: ${known.join(", ")}` }));
}

/** Settings whose value must be one of `allowed` (enums as const objects). */
export function enumFailures(input: Record<string, unknown>, enums: Readonly<Record<string, readonly string[]>>, path: string): InputFailure[] {
  return Object.entries(enums)
    .filter(([k, allowed]) => input[k] !== undefined && !allowed.includes(input[k] as string))
    .map(([k, allowed]) => ({ property: propertyPath(path, k), reason: `${k} ('${String(input[k])}') must be one of ${allowed.join(", ")}` }));
}

/** Settings that take a Duration (a Go duration string or whole nanoseconds); a key may be dotted: `consumer_limits.inactive_threshold`. */
export function durationFailures(input: Record<string, unknown>, keys: readonly string[], path: string): InputFailure[] {
  const valueAt = (key: string) => key.split(".").reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined), input);
  return keys
    .filter((k) => valueAt(k) !== undefined && durationReason(valueAt(k), k))
    .map((k) => ({ property: propertyPath(path, k), reason: durationReason(valueAt(k), k) }));
}

/** A replica count (`num_replicas` of streams, `replicas` of buckets): 1 to 5. */
export function replicasFailures(input: Record<string, unknown>, key: string, path: string): InputFailure[] {
  const n = input[key];
  if (n === undefined || (Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 5)) return [];
  return [{ property: propertyPath(path, key), reason: `${key} (${String(n)}) must be 1 to 5` }];
}

/** User metadata: `_nats*` keys are the server's; streams also need string values. */
export function metadataFailures(metadata: unknown, path: string, stringValues: boolean): InputFailure[] {
  const f: InputFailure[] = [];
  for (const [k, v] of Object.entries((metadata ?? {}) as Record<string, unknown>)) {
    if (k.startsWith("_nats")) f.push({ property: propertyPath(path, `metadata.${k}`), reason: `metadata keys starting with '_nats' ('${k}') are reserved for the server` });
    if (stringValues && typeof v !== "string") f.push({ property: propertyPath(path, `metadata.${k}`), reason: "metadata values must be strings" });
  }
  return f;
}
