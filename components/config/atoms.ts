/**
 * The field types every config section's schema is built from (each capability declares its own
 * section beside its parser: topology/schema.ts, security/schema.ts, …; stack/config-schema.ts
 * assembles them), each with the message a bad value gets: the value and the fix, in the
 * parsers' wording (checkSection in validate.ts turns them into ConfigIssues). The JSON Schema
 * keeps the plain type, range and pattern; the message and any check JSON Schema cannot say (the
 * size and duration grammars' near misses) live in zod. Pure.
 */
import { z } from "zod";
import { tokenReason } from "../subjects/subject";
import { DURATION_PATTERN, SIZE_PATTERN, parseByteSize, parseDurationNanos } from "./units";

/** `default`: the value when unset; `derived`: when the default depends on other fields, said in words. */
export type FieldMeta = { readonly default?: unknown; readonly derived?: string };

/** An optional field with its documentation and default (docs and editors show both). */
export function opt<T extends z.ZodType>(schema: T, description: string, meta: FieldMeta = {}) {
  const text = meta.derived ? `${description}. Default: ${meta.derived}` : description;
  return schema.optional().meta({ description: text, ...(meta.default !== undefined ? { default: meta.default } : {}) });
}
/** A required field with its documentation. */
export function req<T extends z.ZodType>(schema: T, description: string) {
  return schema.meta({ description });
}

/** The field names of an object schema, in declaration order: the parsers' unknown-key lists. */
export function fieldsOf(schema: z.ZodObject): string[] {
  return Object.keys(schema.shape);
}

const show = (v: unknown): string => JSON.stringify(v);
type Iss = { readonly input?: unknown };
/** One error function for every check of a field, from the value it was given. */
export const because = (reason: (input: unknown) => string) => ({ error: (iss: Iss) => reason(iss.input) });

/** An integer in [min, max]. */
export function intIn(min: number, max: number) {
  const e = because((v) => (v === undefined ? `is required: an integer between ${min} and ${max}` : `${show(v)} is not an integer between ${min} and ${max}`));
  return z.number(e).int(e).min(min, e).max(max, e);
}

/** A non-empty string; `required` says what it is, for the message when it is missing. */
export function text(required?: string) {
  return z.string(because((v) => (required !== undefined ? `is required: ${required}; got ${show(v)}` : `must be a non-empty string, got ${show(v)}`))).min(1, because((v) => (required !== undefined ? `is required: ${required}; got ${show(v)}` : `must be a non-empty string, got ${show(v)}`)));
}

/** A string matching `pattern`; `bad` says why a string is not one and what to write. */
export function matching(pattern: RegExp, bad: (s: string, input: unknown) => string, required?: string) {
  const e = because((v) => (v === undefined && required !== undefined ? `is required: ${required}; got undefined` : bad(typeof v === "string" ? v : show(v), v)));
  return z.string(e).regex(pattern, e);
}

/** A TCP port. */
export const port = () => intIn(1, 65_535);

/** A name used as a subject token (cluster name, JetStream domain). */
export const token = (what: string) =>
  text().superRefine((s, ctx) => {
    const reason = tokenReason(s, what);
    if (reason) ctx.addIssue({ code: "custom", input: s, message: `${reason}: it is used as a subject token; use letters, digits, '-' or '_'` });
  });

/** A list of non-empty strings. */
export const names = () => z.array(text(), because((v) => `must be a list of strings, got ${JSON.stringify(v)}`));

export const flag = () => z.boolean(because((v) => `must be true or false, got ${show(v)}`));
export const strings = () => z.array(z.string(because((v) => `${show(v)} is not a string`)), because((v) => `must be a list of strings, got ${show(v)}`));

/** A closed mapping; `hint` lists its fields for the message when the value is no mapping. */
export function record<T extends z.core.$ZodLooseShape>(shape: T, hint: string) {
  return z.strictObject(shape, { error: (iss) => (iss.code === "invalid_type" ? `must be an object ${hint}, got ${show(iss.input)}` : undefined) });
}

/** Dotted-quad IPv4, each part 0-255 without leading zeros. */
export const IPV4 = /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
export const ipv4 = (required?: string) => matching(IPV4, (s) => `'${s}' is not an IPv4 address: write four numbers 0-255 separated by dots, e.g. 10.0.0.41 (no prefix length here)`, required);

/** A size in the one size grammar (units.ts): "256M", "2G" or bytes; -1 too when `unlimited`. `required`: the message when missing. */
export function size(unlimited = false, required?: string) {
  const e = because((v) => (v === undefined && required ? required : String(parseByteSize(v, { unlimited }))));
  const str = z.string(e).regex(new RegExp(SIZE_PATTERN), e);
  return (unlimited ? z.union([str, z.number(e).int(e).min(-1, e), z.literal("-1", e)], e) : z.union([str, z.number(e).int(e).min(0, e)], e)).meta({ title: unlimited ? "size or -1" : "size" });
}

/** A duration in the one duration grammar (units.ts): "500ms", "2s", "1m30s", "720h". */
export function duration(suffix = "") {
  const e = because((v) => `${parseDurationNanos(v)}${suffix}`);
  return z.string(e).regex(new RegExp(DURATION_PATTERN), e).meta({ title: "duration" });
}
