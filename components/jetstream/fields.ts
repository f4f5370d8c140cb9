/**
 * The field kinds JetStream's per-resource tables are written in (STREAM_FIELDS in
 * stream-config.ts, BUCKET_FIELDS/KV_FIELDS/OBJECT_STORE_FIELDS, CONSUMER_FIELDS), and what is
 * derived from a table: the config type, the input validator (zod; also the `cim-nats:jetstream`
 * section's docs and JSON Schema), the canonical config with every default filled in, the diff
 * rules (update in place, replace, one-way) and the request body. Each field is declared once —
 * type and checks, default, mutability, doc line — as terraform-provider-jetstream declares its
 * resources' schemas (Type, Default, ForceNew, ValidateFunc). Pure: zod and data.
 */
import { z } from "zod";
import { because } from "../config/atoms";
import { DURATION_PATTERN } from "../config/units";
import { checkSection } from "../config/validate";
import { deepEqual } from "../provider/canonical";
import { durationReason, toNanos, type Duration, type Nanos } from "./types";

/** What changing a field does: the server changes it in place, or the resource is replaced, or it may be turned on but never off. */
export type Change = "update" | "replace" | "one-way";
/**
 * Where a value comes from: the stack config (YAML: a duration needs its unit, a bare 3600 would
 * be read as nanoseconds) or a resource's inputs (the wire form: nanoseconds are fine).
 */
export type Source = "config" | "inputs";
/** `required`: in inputs and configs; `defaulted`: optional in inputs, always in configs; `optional`: absent from both when unset. */
export type Presence = "required" | "defaulted" | "optional";

type Raw = Record<string, unknown>;

/** One field of a resource: type `T` in configs, `I` in inputs. */
export type Field<T, I = T, P extends Presence = Presence> = {
  readonly presence: P;
  /** One line for the docs. */
  readonly doc: string;
  readonly change: Change;
  /** The input's type and checks, with messages that name the field, the value and the fix. */
  readonly schema: (key: string, source: Source) => z.ZodType;
  /** The canonical value from the input's (undefined when unset); `input` is the whole input, for defaults that depend on other fields. */
  readonly canonical: (value: I | undefined, input: Raw) => T | undefined;
  /** The default as the docs show it: a value, or in words when it depends on other fields. */
  readonly shownDefault?: { readonly value: unknown } | { readonly derived: string };
  /** Left out of requests while at its default: servers older than the field refuse it. */
  readonly omitAtDefault?: boolean;
  /** A list left out of requests while empty: the server stores an empty list as absent (`omitempty`). */
  readonly omitWhenEmpty?: boolean;
  /** For fields only some changes of which replace: why this one does, or "". */
  readonly replaceReason?: (current: T | undefined, desired: T | undefined) => string;
  /** For a one-way field: what keeping it on means, in the message (`keep sealed: true`). */
  readonly keepOn?: string;
  /** The stack config's own name for it (`replicas` for num_replicas). */
  readonly alias?: string;
  /** Consumers: a setting only pull (no deliver_subject) or only push consumers have. */
  readonly only?: "pull" | "push";
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyField = Field<any, any, Presence>;
export type Table = Readonly<Record<string, AnyField>>;

type ValueOf<F> = F extends Field<infer T, infer _I, infer _P> ? T : never;
type InputValueOf<F> = F extends Field<infer _T, infer I, infer _P> ? I : never;
type Flat<T> = { [K in keyof T]: T[K] };
type KeysWhere<F extends Table, P extends Presence> = { [K in keyof F]: F[K]["presence"] extends P ? K : never }[keyof F];

/** A resource's canonical config: every field with its default filled in; optional ones only when set. */
export type ConfigOf<F extends Table> = Flat<
  { readonly [K in KeysWhere<F, "required" | "defaulted">]: ValueOf<F[K]> } & { readonly [K in KeysWhere<F, "optional">]?: ValueOf<F[K]> }
>;
/** A resource's inputs as users write them: required fields and any others, in their input form. */
export type InputOf<F extends Table> = Flat<
  { readonly [K in KeysWhere<F, "required">]: InputValueOf<F[K]> } & { readonly [K in KeysWhere<F, "defaulted" | "optional">]?: InputValueOf<F[K]> }
>;

// ---------------------------------------------------------------- kinds

type Options<T> = {
  readonly change?: Change;
  readonly omitAtDefault?: boolean;
  readonly omitWhenEmpty?: boolean;
  readonly alias?: string;
  readonly only?: "pull" | "push";
  readonly keepOn?: string;
  readonly replaceReason?: (current: T | undefined, desired: T | undefined) => string;
};
/** A default: a value, or one computed from the whole input and said in words for the docs. */
export type Default<T> = T | { readonly derived: string; readonly from: (input: Raw) => T };

const isDerived = <T>(d: Default<T>): d is { derived: string; from: (input: Raw) => T } => typeof d === "object" && d !== null && "derived" in d && "from" in d;
const defaultOf = <T>(d: Default<T>, input: Raw): T => (isDerived(d) ? d.from(input) : (d as T));
const shown = <T>(d: Default<T>) => (isDerived(d) ? { derived: d.derived } : { value: d });
const show = (v: unknown) => JSON.stringify(v);

function make<T, I, P extends Presence>(presence: P, doc: string, schema: Field<T, I, P>["schema"], canonical: Field<T, I, P>["canonical"], o: Options<T>, dflt?: Default<T>): Field<T, I, P> {
  return {
    presence,
    doc,
    change: o.change ?? "update",
    schema,
    canonical,
    ...(dflt !== undefined ? { shownDefault: shown(dflt) } : {}),
    ...(o.omitAtDefault ? { omitAtDefault: true } : {}),
    ...(o.omitWhenEmpty ? { omitWhenEmpty: true } : {}),
    ...(o.replaceReason ? { replaceReason: o.replaceReason } : {}),
    ...(o.keepOn ? { keepOn: o.keepOn } : {}),
    ...(o.alias ? { alias: o.alias } : {}),
    ...(o.only ? { only: o.only } : {}),
  };
}

/** A string checked by `reason` ("" when valid): names, required. */
export function name(doc: string, reason: (s: string) => string, o: Options<string> = {}): Field<string, string, "required"> {
  const schema = () => {
    const e = because((v) => (typeof v === "string" ? reason(v) : `must be a string, got ${show(v)}`));
    return z.string(e).refine((s) => !reason(s), e);
  };
  return make("required", doc, schema, (v) => v ?? "", { change: "replace", ...o });
}

/** Free text; default "". */
export function text(doc: string, o: Options<string> = {}): Field<string, string, "defaulted"> {
  return make("defaulted", doc, () => z.string(because((v) => `must be a string, got ${show(v)}`)), (v) => v ?? "", o, "");
}

/** A string that is absent when unset or empty (a consumer's deliver_group). */
export function optionalText(doc: string, check: (s: string) => string = () => "", o: Options<string> = {}): Field<string, string, "optional"> {
  const schema = () => {
    const e = because((v) => (typeof v === "string" ? check(v) : `must be a string, got ${show(v)}`));
    return z.string(e).refine((s) => !check(s), e);
  };
  return make("optional", doc, schema, (v) => v || undefined, o);
}

/** One of an enum's values (a const object, types.ts). */
export function oneOf<E extends Readonly<Record<string, string>>>(values: E, doc: string, dflt: E[keyof E], o: Options<E[keyof E]> = {}): Field<E[keyof E], E[keyof E], "defaulted"> {
  const allowed = Object.values(values);
  const schema = (key: string) => z.enum(values, because((v) => `${key} ('${String(v)}') must be one of ${allowed.join(", ")}`));
  // An empty string is how some servers report the default.
  return make("defaulted", doc, schema, (v) => v || dflt, o, dflt);
}

/** An enum value that is absent when unset or at `none` (a consumer's priority_policy). */
export function optionalOneOf<E extends Readonly<Record<string, string>>>(values: E, doc: string, none: E[keyof E], o: Options<E[keyof E]> = {}): Field<E[keyof E], E[keyof E], "optional"> {
  const allowed = Object.values(values);
  const schema = (key: string) => z.enum(values, because((v) => `${key} ('${String(v)}') must be one of ${allowed.join(", ")}`));
  return make("optional", doc, schema, (v) => (v && v !== none ? v : undefined), o);
}

/** true or false; `trueMeans` says what true turns on, in the message (`compression must be true (s2) or false`). */
export function flag(doc: string, dflt: Default<boolean> = false, o: Options<boolean> & { readonly trueMeans?: string } = {}): Field<boolean, boolean, "defaulted"> {
  const schema = (key: string) => z.boolean(because((v) => `${key} must be true${o.trueMeans ? ` (${o.trueMeans})` : ""} or false, got ${show(v)}`));
  return make("defaulted", doc, schema, (v, input) => v ?? defaultOf(dflt, input), o, dflt);
}

/**
 * A size or count limit: a whole number ≥ `floor` (-1: unlimited where the server knows it). The
 * server silently turns any other negative into -1 (`max_bytes: -5` was stored as unlimited), so
 * a typo would lift a limit without a word: refused here instead.
 */
export function limit(doc: string, dflt: Default<number> = -1, floor = -1, o: Options<number> = {}): Field<number, number, "defaulted"> {
  const schema = (key: string) => {
    const e = because(
      (v) =>
        `${key}: ${show(v)} is not a limit: write a whole number ≥ ${floor === -1 ? "0, or -1 for unlimited" : floor}` +
        (typeof v === "number" && v < -1 ? " (the server would silently store -1, unlimited)" : ""),
    );
    return z.number(e).int({ ...e, abort: true }).min(floor, e);
  };
  return make("defaulted", doc, schema, (v, input) => (typeof v === "number" ? v : defaultOf(dflt, input)), o, dflt);
}

/** A whole number in [min, max] (replicas, KV history); an unset or 0 value means the default. */
export function count(doc: string, min: number, max: number, dflt: number, o: Options<number> = {}): Field<number, number, "defaulted"> {
  const schema = (key: string) => {
    const e = because((v) => `${key} (${String(v)}) must be ${min} to ${max}`);
    return z.number(e).int({ ...e, abort: true }).min(min, { ...e, abort: true }).max(max, e);
  };
  return make("defaulted", doc, schema, (v) => (typeof v === "number" && v !== 0 ? v : dflt), o, dflt);
}

/** A sequence number; absent when unset or 0. */
export function sequence(doc: string, o: Options<number> = {}): Field<number, number, "optional"> {
  const schema = (key: string) => {
    const e = because((v) => `${key} (${String(v)}) must be a whole number ≥ 0`);
    return z.number(e).int({ ...e, abort: true }).min(0, e);
  };
  return make("optional", doc, schema, (v) => v || undefined, o);
}

/** A whole number ≥ 0 that is 0 when unset (a stream's first_seq, a push consumer's rate_limit_bps). */
export function natural(doc: string, o: Options<number> = {}): Field<number, number, "defaulted"> {
  const schema = (key: string) => {
    const e = because((v) => `${key}: ${show(v)} is not a whole number ≥ 0`);
    return z.number(e).int({ ...e, abort: true }).min(0, e);
  };
  return make("defaulted", doc, schema, (v) => (typeof v === "number" ? v : 0), o, 0);
}

/** Why `v` is not a duration from `source`, or "". YAML durations need their unit: a bare 3600 would be read as nanoseconds. */
function durationProblem(v: unknown, key: string, source: Source): string {
  return source === "config" && typeof v === "number" && v !== 0 ? `${key}: ${String(v)} has no unit; write a duration string like "720h" or "30s"` : durationReason(v, key);
}

/** A duration: a Go duration string (`"720h"`, config/units.ts), 0, or (inputs only) whole nanoseconds. */
export function durationSchema(key: string, source: Source): z.ZodType {
  const e = because((v) => durationProblem(v, key, source));
  // The config's branches carry the grammar for the JSON Schema (editors flag `30d`); the refine below gives the message.
  const branches = source === "config" ? [z.string(e).regex(new RegExp(DURATION_PATTERN), e), z.literal(0, e)] : [z.string(e), z.number(e)];
  return z.union(branches, e).refine((v) => !durationProblem(v, key, source), e).meta({ title: source === "config" ? "duration or 0" : "duration or nanoseconds" });
}

/** A duration, in nanoseconds in configs; an unset or 0 value means the default. */
export function duration(doc: string, dflt: Default<Nanos> = 0, o: Options<Nanos> = {}): Field<Nanos, Duration, "defaulted"> {
  return make("defaulted", doc, durationSchema, (v, input) => (v === undefined ? 0 : toNanos(v, "duration")) || defaultOf(dflt, input), o, dflt);
}

/** A duration that is absent when unset or 0 (a consumer's priority_timeout). */
export function optionalDuration(doc: string, o: Options<Nanos> = {}): Field<Nanos, Duration, "optional"> {
  return make("optional", doc, durationSchema, (v) => (v === undefined ? undefined : toNanos(v, "duration") || undefined), o);
}

/** A list of durations (a consumer's backoff). */
export function durations(doc: string, o: Options<readonly Nanos[]> = {}): Field<readonly Nanos[], readonly Duration[], "defaulted"> {
  const schema = (key: string, source: Source) =>
    z.array(z.unknown().meta({ title: source === "config" ? "duration" : "duration or nanoseconds" }), because((v) => `${key} must be a list of durations, got ${show(v)}`)).superRefine((list, ctx) =>
      list.forEach((d, i) => {
        const r = durationProblem(d, `${key}[${i}]`, source);
        if (r) ctx.addIssue({ code: "custom", path: [i], input: d, message: r });
      }),
    );
  return make<readonly Nanos[], readonly Duration[], "defaulted">("defaulted", doc, schema, (v) => (v ?? []).map((d, i) => toNanos(d, `${i}`)), o, []);
}

/** Subjects, each checked (`wildcards`: filters may hold `*` and `>`); `dflt` when unset or empty. */
export function subjects(doc: string, check: (s: string) => string, dflt: Default<readonly string[]> = [], o: Options<readonly string[]> = {}): Field<readonly string[], readonly string[], "defaulted"> {
  const schema = (key: string) =>
    z
      .array(z.string(because((v) => `must be a subject string, got ${show(v)}`)), because((v) => `${key} must be a list of subjects, got ${show(v)}`))
      .superRefine((list, ctx) =>
        list.forEach((s, i) => {
          const r = check(s);
          if (r) ctx.addIssue({ code: "custom", path: [i], input: s, message: r });
        }),
      );
  return make("defaulted", doc, schema, (v, input) => (v && v.length ? [...v] : defaultOf(dflt, input)), o, dflt);
}

/**
 * User metadata: a string map whose `_nats*` keys are the server's own (it adds `_nats.ver`,
 * `_nats.level`, …; they are never part of the config).
 */
export function metadata(doc: string, stringValues: boolean, o: Options<Readonly<Record<string, string>>> = {}): Field<Readonly<Record<string, string>>, Readonly<Record<string, string>>, "defaulted"> {
  const schema = () =>
    z.record(z.string(), z.unknown(), because((v) => `metadata must be a map of strings, got ${show(v)}`)).superRefine((m, ctx) => {
      for (const [k, v] of Object.entries(m)) {
        if (k.startsWith("_nats")) ctx.addIssue({ code: "custom", path: [k], input: k, message: `metadata keys starting with '_nats' ('${k}') are reserved for the server` });
        if (stringValues && typeof v !== "string") ctx.addIssue({ code: "custom", path: [k], input: v, message: "metadata values must be strings" });
      }
    });
  const canonical = (m: Readonly<Record<string, string>> | undefined) => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(m ?? {})) if (!k.startsWith("_nats")) out[k] = String(v);
    return out;
  };
  return make("defaulted", doc, schema, canonical, o, {});
}

/**
 * A nested setting whose parts have their own schema (placement, republish…); `canonical` drops
 * empty parts (what the server omits), and `none` is its value when unset.
 */
export function nested<T, I = T>(
  doc: string,
  schema: (key: string, source: Source) => z.ZodType,
  canonical: (v: I | undefined, input: Raw) => T | undefined,
  o: Options<T> = {},
): Field<T, I, "optional"> {
  return make("optional", doc, schema, canonical, o);
}

/** Like `nested`, but always present in configs (`{}` or `[]` when unset). */
export function nestedDefaulted<T, I = T>(
  doc: string,
  schema: (key: string, source: Source) => z.ZodType,
  canonical: (v: I | undefined, input: Raw) => T,
  shownDefault: unknown,
  o: Options<T> = {},
): Field<T, I, "defaulted"> {
  return make("defaulted", doc, schema, canonical, o, shownDefault as T);
}

// ---------------------------------------------------------------- what a table gives

/** The field a key names: itself, or the field whose alias it is. */
function resolve(table: Table, key: string): [string, AnyField] | undefined {
  if (table[key]) return [key, table[key]];
  const e = Object.entries(table).find(([, f]) => f.alias === key);
  return e ? [e[0], e[1]] : undefined;
}

/** An input's value for `key`, under the key or its alias. */
function inputValue(table: Table, input: Raw, key: string): unknown {
  const alias = table[key].alias;
  return input[key] !== undefined ? input[key] : alias !== undefined ? input[alias] : undefined;
}

/** The canonical config: every field with its default filled in; optional ones only when set. */
export function canonicalConfig<F extends Table>(table: F, input: InputOf<F> | Raw): ConfigOf<F> {
  const raw = input as Raw;
  const out: Raw = {};
  for (const [key, f] of Object.entries(table)) {
    const v = f.canonical(inputValue(table, raw, key), raw);
    if (v !== undefined) out[key] = v;
  }
  return out as ConfigOf<F>;
}

/** Input keys → wire keys (aliases to the names the server spells), e.g. `replicas` → `num_replicas`; other keys kept. */
export function wireNames(table: Table, input: Raw): Raw {
  const out: Raw = {};
  for (const [k, v] of Object.entries(input)) out[resolve(table, k)?.[0] ?? k] = v;
  return out;
}

/** The keys of `table` whose change replaces the resource. */
export function replaceKeys(table: Table): string[] {
  return Object.entries(table)
    .filter(([, f]) => f.change === "replace" || f.replaceReason)
    .map(([k]) => k);
}

/** The keys that are absent when unset: a request must not keep the live value of one the config leaves out. */
export function optionalKeys(table: Table): string[] {
  return Object.entries(table)
    .filter(([, f]) => f.presence === "optional")
    .map(([k]) => k);
}

/** Why changing `current` into `desired` needs a replacement, per key; empty when it changes in place. */
export function replaceReasons<F extends Table>(table: F, current: ConfigOf<F>, desired: ConfigOf<F>, verb = "cannot change after creation"): Record<string, string> {
  const c = current as Raw;
  const d = desired as Raw;
  const out: Record<string, string> = {};
  for (const [k, f] of Object.entries(table)) {
    const reason = f.replaceReason ? f.replaceReason(c[k], d[k]) : f.change === "replace" && !deepEqual(c[k], d[k]) ? `${k} ${verb} (${show(c[k] ?? null)} → ${show(d[k] ?? null)})` : "";
    if (reason) out[k] = reason;
  }
  return out;
}

/** Whether a one-way setting is on: true, or a positive duration. */
const isOn = (v: unknown) => v === true || (typeof v === "number" && v > 0);

/** One-way settings `desired` turns back off: each a message naming the setting and the fix. */
export function oneWayViolations<F extends Table>(table: F, current: ConfigOf<F>, desired: ConfigOf<F>, what: string, noun: string): string[] {
  return Object.entries(table)
    .filter(([k, f]) => f.change === "one-way" && isOn((current as Raw)[k]) && !isOn((desired as Raw)[k]))
    .map(
      ([k, f]) =>
        `${what}: ${k} is on and the server can never turn it off; ${f.keepOn ?? `keep ${k}: true`} (or delete the ${noun}, which loses its data, and create a new one)`,
    );
}

/**
 * The request body for `cfg`: fields at their default that older servers refuse, and empty lists
 * the server keeps as absent, are left out unless `live` carries the key (then the default must be
 * sent to reset it).
 */
export function wireConfig<F extends Table>(table: F, cfg: ConfigOf<F>, defaults: ConfigOf<F>, live: Raw = {}): Raw {
  const body: Raw = { ...cfg };
  for (const [k, f] of Object.entries(table)) {
    const v = (cfg as Raw)[k];
    const omit = (f.omitAtDefault && deepEqual(v, (defaults as Raw)[k])) || (f.omitWhenEmpty && Array.isArray(v) && v.length === 0);
    if (omit && !(k in live)) delete body[k];
  }
  return body;
}

/** A rule across fields: the property it is reported at and why, "" when it holds. */
export type CrossRule = (input: Raw) => readonly { readonly property: string; readonly reason: string }[];

/**
 * The zod schema of a resource's fields from `source` (its aliases too, and `extra` keys the
 * resource or section adds), with the table's pull/push rule and `rules` across fields. Every
 * rule runs even when a field has a problem, so one run reports every problem.
 */
export function tableSchema(table: Table, source: Source, rules: readonly CrossRule[] = [], extra: Readonly<Record<string, z.ZodType>> = {}) {
  const shape: Record<string, z.ZodType> = {};
  for (const [k, f] of Object.entries(table)) {
    const docs = `${f.doc}${f.change === "replace" ? "; replaces the resource when changed" : f.change === "one-way" ? "; one-way: can be turned on, never off" : ""}`;
    const meta = { description: f.shownDefault && "derived" in f.shownDefault ? `${docs}. Default: ${f.shownDefault.derived}` : docs, ...(f.shownDefault && "value" in f.shownDefault ? { default: f.shownDefault.value } : {}) };
    // An aliased field may be written under either name: neither is required on its own (a rule below says one is).
    const field = (key: string, m: Record<string, unknown>) => (f.presence === "required" && !f.alias ? f.schema(key, source).meta(m) : f.schema(key, source).optional().meta(m));
    // The stack config documents its own name; the wire name is accepted too.
    if (f.alias && source === "config") {
      shape[k] = field(k, { description: `\`${f.alias}\` as JetStream spells it` });
      shape[f.alias] = field(f.alias, f.presence === "required" ? { ...meta, description: `${meta.description} (required: this or \`${k}\`)` } : meta);
    } else {
      shape[k] = field(k, meta);
      if (f.alias) shape[f.alias] = field(f.alias, { description: `${k}, in the stack config's name` });
    }
  }
  Object.assign(shape, extra);
  return z.strictObject(shape).superRefine(
    (input, ctx) => {
      for (const [k, f] of Object.entries(table)) {
        if (!f.alias) continue;
        if (input[k] !== undefined && input[f.alias] !== undefined && !deepEqual(input[k], input[f.alias])) {
          ctx.addIssue({ code: "custom", path: [k], input: input[k], message: `${f.alias} and ${k} differ: set one` });
        }
        if (f.presence === "required" && input[k] === undefined && input[f.alias] === undefined) {
          ctx.addIssue({ code: "custom", path: [source === "config" ? f.alias : k], input: undefined, message: `is required: the ${f.doc}` });
        }
      }
      // Pull-only settings on a push consumer and push-only ones on a pull consumer.
      const push = !!input.deliver_subject;
      for (const [k, f] of Object.entries(table)) {
        if (!f.only || !input[k]) continue;
        if (f.only === "pull" && push) ctx.addIssue({ code: "custom", path: [k], input: input[k], message: `${k} is for pull consumers; remove it or deliver_subject` });
        if (f.only === "push" && !push) ctx.addIssue({ code: "custom", path: [k], input: input[k], message: `${k} is for push consumers: set deliver_subject or remove it` });
      }
      for (const rule of rules) for (const r of rule(input)) ctx.addIssue({ code: "custom", path: r.property.split(/\.|\[|\]/).filter(Boolean).map((p) => (/^\d+$/.test(p) ? Number(p) : p)), input, message: r.reason });
    },
    { when: () => true } as never,
  );
}

/** `keys` a resource or section adds to a table's (`target`, `at`…), accepted as they are: checked by their owner. */
export const accepting = (keys: readonly string[]): Record<string, z.ZodType> => Object.fromEntries(keys.map((k) => [k, z.unknown().optional()]));

/** One problem with resource inputs, in Pulumi's CheckFailure shape. */
export type InputFailure = { readonly property: string; readonly reason: string };

/** Problems with a resource's inputs, each at its property path under `path` ("" for the top level). */
export function inputFailures(schema: z.ZodType, input: unknown, noun: string, path = ""): InputFailure[] {
  return checkSection(schema, input, path, `${noun} setting`).issues.map((i) => ({ property: i.propertyPath, reason: i.reason }));
}
