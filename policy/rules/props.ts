/**
 * Reading a resource's properties inside a rule. @pulumi/policy hands them through a proxy that
 * throws when a rule touches a value unknown at preview (the engine then reports the rule as
 * "can't run during preview", advisory; `up` knows every input and enforces it before the step).
 */
import type { ResourceValidationArgs } from "@pulumi/policy";

/** @pulumi/policy's proxy hands the raw object under this key (proxy.ts, getSpecialProxyTarget). */
const PROXY_TARGET = "__getSpecialProxyTarget";

/** The object behind the policy SDK's proxy (a Promise must not be awaited through it). */
export function raw<T>(value: T): T {
  const target = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[PROXY_TARGET] : undefined;
  return (target as T | undefined) ?? value;
}

/** The text of a StringAsset input (e.g. a CopyToRemote `source`), or undefined for other assets. */
export async function assetText(asset: unknown): Promise<string | undefined> {
  const a = raw(asset) as { text?: Promise<string> | string } | undefined;
  if (!a || a.text === undefined) return undefined;
  return await a.text;
}

/** `type name (urn)` of the resource a rule is looking at, for messages. */
export function what(args: Pick<ResourceValidationArgs, "name" | "urn">): string {
  return `'${args.name}' (${args.urn})`;
}

/** True when `e` is the policy SDK's "value unknown during preview" error. */
export function isUnknownValueError(e: unknown): boolean {
  return e instanceof Error && e.constructor.name === "UnknownValueError";
}
