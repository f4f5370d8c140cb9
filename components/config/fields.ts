/**
 * What the section parsers share after the schema (schema.ts, run by validate.ts) has checked
 * every field: the raw mapping type, the issue recorder, and the object test.
 */

/** A raw config mapping, as YAML gives it. */
export type Raw = Record<string, unknown>;
/** Records one issue: the property path and what to do. */
export type At = (propertyPath: string, reason: string) => void;

export function isObject(v: unknown): v is Raw {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
