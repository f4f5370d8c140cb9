/**
 * Field readers shared by every config parser (topology, security, proxmox, cidService): each reads one
 * value, records an issue naming the path when it is wrong, and returns a usable fallback so
 * parsing goes on and every problem is reported at once.
 */
import { unknownFieldReason } from "./validate";

/** A raw config mapping, as YAML gives it. */
export type Raw = Record<string, unknown>;
/** Records one issue: the property path and what to do. */
export type At = (propertyPath: string, reason: string) => void;

export function isObject(v: unknown): v is Raw {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The mapping at `path`, or {} (absent, or wrong type: then an issue). */
export function objOrEmpty(v: unknown, path: string, at: At): Raw {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) {
    at(path, `must be an object, got ${JSON.stringify(v)}`);
    return {};
  }
  return v;
}

/**
 * One issue per key not in `allowed`, with the nearest allowed key as the hint (validate.ts). Keys in
 * `reportedElsewhere` are skipped (proxmox reports a plaintext secret with its own fix).
 */
export function unknownKeys(v: Raw, allowed: readonly string[], path: string, at: At, reportedElsewhere: readonly string[] = []): void {
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k) && !reportedElsewhere.includes(k)) at(`${path}.${k}`, unknownFieldReason(k, allowed));
  }
}

export function optString(v: unknown, path: string, dflt: string, at: At): string {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "string" || v.length === 0) {
    at(path, `must be a non-empty string, got ${JSON.stringify(v)}`);
    return dflt;
  }
  return v;
}

export function requiredString(v: unknown, path: string, what: string, at: At): string {
  if (typeof v !== "string" || v.length === 0) {
    at(path, `is required: ${what}; got ${JSON.stringify(v)}`);
    return "";
  }
  return v;
}

/** An integer in [min, max]; required when there is no default. */
export function int(v: unknown, path: string, dflt: number | undefined, min: number, max: number, at: At): number {
  if (v === undefined || v === null) {
    if (dflt === undefined) at(path, `is required: an integer between ${min} and ${max}`);
    return dflt ?? NaN;
  }
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    at(path, `${JSON.stringify(v)} is not an integer between ${min} and ${max}`);
    return dflt ?? NaN;
  }
  return v;
}

export function bool(v: unknown, path: string, dflt: boolean, at: At): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "boolean") {
    at(path, `must be true or false, got ${JSON.stringify(v)}`);
    return dflt;
  }
  return v;
}

export function stringList(v: unknown, path: string, at: At): readonly string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
    at(path, `must be a list of strings, got ${JSON.stringify(v)}`);
    return [];
  }
  return v as string[];
}
