/**
 * Runs one section's declared schema (schema.ts) over its raw YAML and turns zod's issues into
 * ConfigIssues with the parsers' field paths (`topology.hosts[2].vmid`). The messages come from
 * the fields' own error functions (atoms.ts), which name the value and the fix; an unknown key
 * gets the known keys and a "did you mean". Every bad field is left out of the returned value,
 * so the section parser can still run its cross-field rules on the rest and report every problem
 * at once. Pure: zod only.
 */
import type { z } from "zod";
import type { ConfigIssue } from "./errors";

/** A section as far as it is valid: every field with an issue is absent (array slots stay, as undefined). */
export type Loose<T> = T extends readonly (infer E)[]
  ? readonly (Loose<E> | undefined)[]
  : T extends object
    ? { readonly [K in keyof T]?: Loose<T[K]> }
    : T;

export type Checked<T> = { readonly value: Loose<T>; readonly issues: readonly ConfigIssue[] };

/**
 * Validates `raw` against `schema`; paths start at `root` (e.g. "topology"; "" for a resource's
 * own inputs). YAML nulls count as unset. `noun` names an unknown key ("unknown stream setting").
 */
export function checkSection<S extends z.ZodType>(schema: S, raw: unknown, root: string, noun = "field"): Checked<z.output<S>> {
  const input = withoutNulls(raw);
  const result = schema.safeParse(input, { reportInput: true, error: allowedKeysOf });
  if (result.success) return { value: input as Loose<z.output<S>>, issues: [] };
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  const add = (propertyPath: string, reason: string) => {
    if (seen.has(propertyPath + "\0" + reason)) return;
    seen.add(propertyPath + "\0" + reason);
    issues.push({ propertyPath, reason });
  };
  const bad: (readonly PropertyKey[])[] = [];
  for (const iss of result.error.issues.flatMap(branchIssues)) {
    if (iss.code === "unrecognized_keys") {
      const allowed = iss.message.split(",");
      for (const key of iss.keys) {
        add(pathOf(root, [...iss.path, key]), unknownFieldReason(key, allowed, noun));
        bad.push([...iss.path, key]);
      }
    } else {
      add(pathOf(root, iss.path), iss.message);
      bad.push(iss.path);
    }
  }
  return { value: without(input, bad) as Loose<z.output<S>>, issues };
}

/**
 * A union whose value has the type of exactly one branch (a template's { url, ... } among a file id
 * or a download) reports that branch's own issues, at their fields; otherwise the union's message.
 */
function branchIssues(iss: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (iss.code !== "invalid_union" || iss.errors.length === 0) return [iss];
  const typed = iss.errors.filter((branch) => !branch.some((b) => b.path.length === 0 && (b.code === "invalid_type" || b.code === "invalid_value")));
  if (typed.length !== 1) return [iss];
  return typed[0].map((b) => ({ ...b, path: [...iss.path, ...b.path] }) as z.core.$ZodIssue).flatMap(branchIssues);
}

/** `unknown field 'vmId' (did you mean 'vmid'?): allowed are …`, for every section. */
export function unknownFieldReason(key: string, allowed: readonly string[], noun = "field"): string {
  const near = nearest(key, allowed);
  return `unknown ${noun} '${key}'${near ? ` (did you mean '${near}'?)` : ""}: allowed are ${allowed.join(", ")}`;
}

/** The allowed key a typo most likely meant: same letters in another case, or at most two edits away. */
export function nearest(key: string, allowed: readonly string[]): string | undefined {
  const k = key.toLowerCase();
  const exact = allowed.find((a) => a.toLowerCase() === k);
  if (exact) return exact;
  const scored = allowed.map((a) => [a, editDistance(k, a.toLowerCase())] as const).filter(([, d]) => d <= Math.min(2, Math.floor(k.length / 3)));
  return scored.sort((a, b) => a[1] - b[1])[0]?.[0];
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

/** zod drops the schema from a finished issue: carry an unknown key's allowed keys in its message. */
function allowedKeysOf(iss: z.core.$ZodRawIssue): string | undefined {
  if (iss.code !== "unrecognized_keys") return undefined;
  const shape = (iss.inst as { _zod?: { def?: { shape?: object } } } | undefined)?._zod?.def?.shape ?? {};
  return Object.keys(shape).join(",");
}

/** `topology` + ["hosts", 2, "vmid"] → `topology.hosts[2].vmid`; "" + ["subjects", 0] → `subjects[0]`. */
export function pathOf(root: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>((p, k) => (typeof k === "number" ? `${p}[${k}]` : p === "" ? String(k) : `${p}.${String(k)}`), root);
}

/** YAML writes an empty value as null; the parsers always read it as unset. */
function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (typeof v !== "object" || v === null) return v;
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, withoutNulls(x)]));
}

/** A copy of `v` without the values at `paths` (array slots become undefined, so indices keep). */
function without(v: unknown, paths: readonly (readonly PropertyKey[])[]): unknown {
  const copy = structuredClone(v);
  for (const path of paths) {
    if (path.length === 0) return undefined;
    let parent: unknown = copy;
    for (const k of path.slice(0, -1)) parent = typeof parent === "object" && parent !== null ? (parent as Record<PropertyKey, unknown>)[k] : undefined;
    if (typeof parent !== "object" || parent === null) continue;
    const last = path[path.length - 1];
    if (Array.isArray(parent)) parent[last as number] = undefined;
    else delete (parent as Record<PropertyKey, unknown>)[last];
  }
  return copy;
}

/**
 * Issues in the order the config lists their fields (a section's schema issues and its parser's
 * cross-field issues interleaved), so a user reads them top to bottom; issues outside `root` keep
 * their place after it. Stable for equal positions.
 */
export function inConfigOrder(issues: readonly ConfigIssue[], raw: unknown, root: string): ConfigIssue[] {
  const position = (propertyPath: string): number[] => {
    if (propertyPath !== root && !propertyPath.startsWith(`${root}.`) && !propertyPath.startsWith(`${root}[`)) return [Infinity];
    const keys = [...propertyPath.slice(root.length).matchAll(/\.([^.[\]]+)|\[(\d+)\]/g)].map((m) => m[1] ?? Number(m[2]));
    const out: number[] = [];
    let node: unknown = raw;
    for (const k of keys) {
      const here = typeof k === "number" ? k : typeof node === "object" && node !== null ? Object.keys(node).indexOf(k) : -1;
      out.push(here < 0 ? Number.MAX_SAFE_INTEGER : here);
      node = typeof node === "object" && node !== null ? (node as Record<PropertyKey, unknown>)[k] : undefined;
    }
    return out;
  };
  const compare = (a: number[], b: number[]): number => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
    return a.length - b.length;
  };
  return issues.map((issue) => ({ issue, at: position(issue.propertyPath) })).sort((x, y) => compare(x.at, y.at)).map((x) => x.issue);
}
