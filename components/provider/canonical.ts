/**
 * Canonical forms for comparing a declared config with what the server reports, so that
 * server-filled defaults, empty values and the server's own `_nats.*` metadata never show as
 * changes (no perpetual diffs).
 */

/** The value Pulumi passes for a property not yet known during preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Whether any value inside `v` is still unknown (preview before dependencies exist). */
export function containsUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (v && typeof v === "object") return Object.values(v).some(containsUnknown);
  return false;
}

/**
 * `v` without empty parts: undefined, null, "", 0, false, [] and {} are what the server omits
 * (`omitempty`), so they mean "unset" inside nested settings (sources, placement, republish…).
 * Returns undefined when nothing is left.
 */
export function compact<T>(v: T): T | undefined {
  if (v === undefined || v === null || v === "" || v === 0 || v === false) return undefined;
  if (Array.isArray(v)) {
    const items = v.map((x) => (x && typeof x === "object" ? (compact(x) ?? {}) : x));
    return (items.length ? items : undefined) as T | undefined;
  }
  if (typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const c = compact(x);
      if (c !== undefined) out[k] = c;
    }
    return (Object.keys(out).length ? out : undefined) as T | undefined;
  }
  return v;
}

/** User metadata only: the server adds `_nats.ver`, `_nats.level`, `_nats.req.level` itself. */
export function userMetadata(m: Readonly<Record<string, string>> | undefined): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m ?? {})) if (!k.startsWith("_nats")) out[k] = String(v);
  return out;
}

/** Structural equality for JSON-like data; object key order is ignored, array order is not. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

/** Keys of `desired` whose value differs from `current` (both full, canonical configs). */
export function changedKeys<T extends object>(current: T, desired: T): (keyof T)[] {
  const keys = new Set([...Object.keys(current), ...Object.keys(desired)] as (keyof T)[]);
  return [...keys].filter((k) => !deepEqual(current[k], desired[k]));
}

/** A resource's inputs without Pulumi's `__provider` and without values unknown at preview: what validators check. */
export function knownInputs(input: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(input).filter(([k, v]) => k !== "__provider" && !containsUnknown(v)));
}

/** A resource's own config: its inputs or outputs without the resource-level `keys` (target, allowDataLoss…) and Pulumi's `__provider`. */
export function resourceConfig<T>(args: object, keys: readonly string[]): T {
  return Object.fromEntries(Object.entries(args).filter(([k]) => k !== "__provider" && !keys.includes(k))) as T;
}
