/**
 * Runs one rule of the policy pack the way @pulumi/policy's analyzer does (server.ts): a
 * resource's type, name, URN, inputs and options in, the reported violations out. `notApplicable`
 * throws, as in the SDK, and is returned as `notApplicable`. Unknown inputs (a preview before the
 * keys exist) are simulated by properties whose getter throws the SDK's UnknownValueError.
 */
import type { PolicyResourceOptions, ResourceValidationPolicy } from "../../policy/policies";

export type RuleRun = { readonly violations: readonly string[]; readonly notApplicable?: string };

export type ResourceUnderTest = {
  readonly type: string;
  readonly name: string;
  readonly props: Record<string, unknown>;
  readonly opts?: Partial<PolicyResourceOptions>;
  /** The rule's policy config (e.g. `{ allowReplace: [urn] }`). */
  readonly config?: Record<string, unknown>;
};

export const urnOf = (type: string, name: string) => `urn:pulumi:prod::cim-nats::cim-nats:index:Backbone$${type}::${name}`;

class NotApplicable extends Error {}

/** The SDK's error for a value unknown at preview, by its class name (what props.ts checks). */
export class UnknownValueError extends Error {}

/** The SDK's stand-in for a value unknown at preview (here: a marker the proxy below refuses). */
const UNKNOWN = Symbol("unknown during preview");

/** `props` with `key` unknown at preview: reading it through the proxy throws like the SDK's. */
export function withUnknown(props: Record<string, unknown>, key: string): Record<string, unknown> {
  return { ...props, [key]: UNKNOWN };
}

/** Like @pulumi/policy's unknownCheckingProxy: throws on an unknown value, hands the raw object under its special key. */
function checkingProxy<T>(value: T, path: string[] = []): T {
  if (!(value instanceof Object)) return value;
  return new Proxy(value as object, {
    get: (obj, prop) => {
      if (prop === "__getSpecialProxyTarget") return obj;
      const field = (obj as Record<string | symbol, unknown>)[prop];
      if (field === UNKNOWN) throw new UnknownValueError(`value at .${[...path, String(prop)].join(".")} can't be known during preview`);
      return checkingProxy(field, [...path, String(prop)]);
    },
  }) as T;
}

export async function runRule(policy: ResourceValidationPolicy, r: ResourceUnderTest): Promise<RuleRun> {
  const violations: string[] = [];
  const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource!];
  const args = {
    type: r.type,
    name: r.name,
    urn: urnOf(r.type, r.name),
    props: checkingProxy(r.props),
    opts: { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [], ...r.opts },
    stackTags: new Map<string, string>(),
    isType: () => false,
    asType: () => undefined,
    getConfig: <T extends object>() => ({ ...defaults(policy), ...r.config }) as T,
    notApplicable: (reason?: string): never => {
      throw new NotApplicable(reason ?? "");
    },
  };
  try {
    for (const v of validations) await v(args as never, (message: string) => violations.push(message));
  } catch (e) {
    if (e instanceof NotApplicable) return { violations, notApplicable: e.message };
    throw e;
  }
  return { violations };
}

function defaults(policy: ResourceValidationPolicy): Record<string, unknown> {
  const props = policy.configSchema?.properties ?? {};
  return Object.fromEntries(Object.entries(props).filter(([, s]) => s.default !== undefined).map(([k, s]) => [k, s.default]));
}
