/**
 * Field readers shared by every config parser (topology, security, proxmox): each reads one
 * value, records an issue naming the path when it is wrong, and returns a usable fallback so
 * parsing goes on and every problem is reported at once.
 */

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

/** One issue per key not in `allowed`, with a case-insensitive near match as the hint. */
export function unknownKeys(v: Raw, allowed: readonly string[], path: string, at: At): void {
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) {
      const near = allowed.find((a) => a.toLowerCase() === k.toLowerCase());
      at(`${path}.${k}`, `unknown field '${k}'${near ? ` (did you mean '${near}'?)` : ""}: allowed are ${allowed.join(", ")}`);
    }
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
