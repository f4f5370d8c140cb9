/**
 * `no-unapproved-replacement`: a Proxmox container (and the leaf streams on its data volume) or
 * a stream, KV bucket or object bucket is never replaced unless the stack's policy config names
 * its URN in `allowReplace`.
 *
 * What the rule can see: @pulumi/policy 1.21's analyzer hands a rule the resource's new inputs and
 * options — no step op, no old state. So the rule reads the stack's previous state itself
 * (`pulumi stack export`, context.ts) and applies the same replace rules the providers apply:
 * - stores: the dynamic providers' own rules (components/jetstream/*-config.ts `replaceReasons`,
 *   and a new JetStream domain), old outputs against new inputs;
 * - containers: the Proxmox provider's force-new inputs (terraform-provider-proxmox v0.111.1,
 *   proxmoxtf/resource/container/container.go, `ForceNew: true`), minus the resource's
 *   ignoreChanges (components/proxmox/container-args.ts CONTAINER_IGNORE_CHANGES).
 * A resource absent from the previous state is a create, not a replacement.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { deepEqual, resourceConfig } from "../../components/provider/canonical";
import { CONTAINER_FORCE_NEW } from "../../components/proxmox/container-args";
import { KV_STORE_KIND } from "../../components/jetstream/kv-config";
import { OBJECT_STORE_KIND } from "../../components/jetstream/object-store-config";
import { STORE_RESOURCE_KEYS, type StoreKind } from "../../components/jetstream/store-kind";
import { STREAM_STORE_KIND } from "../../components/jetstream/stream-config";
import type { PolicyContext, StateResource } from "../context";
import { CONTAINER_TYPES, TYPES } from "../resource-types";
import { isUnknownValueError, raw, what } from "./props";

const STORE_KINDS: Readonly<Record<string, StoreKind<any, any>>> = {
  [TYPES.stream]: STREAM_STORE_KIND,
  [TYPES.kv]: KV_STORE_KIND,
  [TYPES.objectStore]: OBJECT_STORE_KIND,
};


/** Pulumi's secret envelope in exported state: such a value cannot be compared without the key. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

type Json = unknown;

function strip(v: Json): Json {
  if (Array.isArray(v)) return v.map(strip);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.entries(v as Record<string, Json>).filter(([k]) => k !== "__defaults").map(([k, x]) => [k, strip(x)]));
  }
  return v;
}

function at(v: Json, path: string): Json {
  return path.split(".").reduce<Json>((o, k) => (o && typeof o === "object" ? (o as Record<string, Json>)[k] : undefined), v);
}

/** `v` without the value at `path` (dotted; lists are walked element by element). */
function without(v: Json, path: readonly string[]): Json {
  if (Array.isArray(v)) return v.map((x) => without(x, path));
  if (!v || typeof v !== "object" || path.length === 0) return v;
  const [head, ...rest] = path;
  const o = { ...(v as Record<string, Json>) };
  if (!(head in o)) return v;
  if (rest.length === 0) delete o[head];
  else o[head] = without(o[head], rest);
  return o;
}

const isSecret = (v: Json): boolean => JSON.stringify(v ?? null).includes(SECRET_SIG);

/** Why replacing `old` by a container with inputs `news` (and these ignoreChanges) happens; [] when in place. */
export function containerReplaceReasons(old: StateResource, news: Record<string, Json>, ignoreChanges: readonly string[]): string[] {
  const reasons: string[] = [];
  const olds = strip(old.inputs ?? {});
  const next = strip(news);
  for (const path of CONTAINER_FORCE_NEW) {
    const ignored = ignoreChanges.filter((p) => p === path || p.startsWith(`${path}.`)).map((p) => p.slice(path.length + 1).split(".").filter(Boolean));
    if (ignored.some((p) => p.length === 0)) continue;
    const a = ignored.reduce((v, p) => without(v, p), at(olds, path));
    const b = ignored.reduce((v, p) => without(v, p), at(next, path));
    if (isSecret(a) || isSecret(b)) continue;
    if (!deepEqual(a ?? null, b ?? null)) reasons.push(`${path} ${JSON.stringify(a ?? null)} → ${JSON.stringify(b ?? null)}`);
  }
  return reasons;
}

/** Why replacing stored `old` by a store with inputs `news` happens, by the provider's own rules; [] when in place. */
export function storeReplaceReasons(type: string, old: StateResource, news: Record<string, Json>, newDomain: string | undefined): string[] {
  const kind = STORE_KINDS[type];
  if (!kind) return [];
  const current = kind.normalize(resourceConfig(strip(old.outputs ?? old.inputs ?? {}) as object, STORE_RESOURCE_KEYS));
  const desired = kind.normalize(resourceConfig(news as object, STORE_RESOURCE_KEYS));
  const reasons = Object.values(kind.replaceReasons(current, desired)).filter((r): r is string => typeof r === "string");
  // The domain is in the id (`stream:<domain>/<name>`), so an encrypted target need not be read.
  const oldDomain = old.id?.match(/^[a-z-]+:([^/]*)\//)?.[1];
  if (newDomain !== undefined && oldDomain !== undefined && oldDomain !== newDomain) reasons.push(`JetStream domain '${oldDomain}' → '${newDomain}'`);
  return reasons;
}

export function noUnapprovedReplacement(ctx: PolicyContext): ResourceValidationPolicy {
  return {
    name: "no-unapproved-replacement",
    description: "Containers, streams and buckets are replaced only when the policy config lists their URN in allowReplace.",
    enforcementLevel: "mandatory",
    configSchema: {
      properties: {
        allowReplace: { type: "array", items: { type: "string" }, default: [], description: "URNs that may be replaced in this run (a reviewed, deliberate replacement)." },
      },
    },
    validateResource: (args, report) => {
      const container = CONTAINER_TYPES.includes(args.type);
      if (!container && !STORE_KINDS[args.type]) return;
      const old = ctx.priorState().get(args.urn);
      if (!old || old.type !== args.type) return;
      const props = raw(args.props) as Record<string, Json>;
      let reasons: string[];
      if (container) {
        reasons = containerReplaceReasons(old, props, args.opts.ignoreChanges ?? []);
      } else {
        let domain: string | undefined;
        try {
          domain = (args.props.target as { domain?: string }).domain ?? "";
        } catch (e) {
          // The target (with its creds) may be unknown at preview: the config's rules still apply.
          if (!isUnknownValueError(e)) throw e;
        }
        reasons = storeReplaceReasons(args.type, old, props, domain);
      }
      if (reasons.length === 0) return;
      const allowed = args.getConfig<{ allowReplace?: string[] }>().allowReplace ?? [];
      if (allowed.includes(args.urn)) return;
      report(
        `${what(args)} would be replaced (${reasons.join("; ")}): ${container ? "a new container starts with an empty data volume" : "the replacement starts empty"}. ` +
          `Fix: keep these settings as they are, or, for a deliberate replacement, add "${args.urn}" to allowReplace of no-unapproved-replacement in the policy config (pulumi preview --policy-pack-config).`,
      );
    },
  };
}
