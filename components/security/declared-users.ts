/**
 * The users `security.users` declares, as UserSpecs: account, plain permissions, response
 * permission, inbox prefix, bindings and where a service connects, or the leaf a leaf-link user
 * links. Their derived permissions are bound-users.ts's. Pure: no I/O, no Pulumi.
 */
import { Topology } from "../topology/types";
import { AccountKind, AccountSpec, ConnectionType, ResponsePermission, SubjectRule, UserRole, UserSpec } from "./types";
import type { ServiceBindings, ServicePlace } from "./types";
import { parseDurationMs } from "./units";
import { bindingFields, DEFAULT_CONNECTION_TYPES, type SecuritySection as Section } from "./schema";
import type { At } from "../config/fields";
import { atIssues, resolveAt, type At as Place } from "../jetstream/locations";
import { serviceInboxPrefix } from "./inboxes";

/** One entry of `security.users` as the schema checked it. */
export type RawUser = NonNullable<NonNullable<Section["users"]>[number]>;
const BINDING_KEYS = Object.keys(bindingFields) as (keyof typeof bindingFields)[];
const defined = <T>(list: readonly (T | undefined)[] | undefined): T[] => [...new Set((list ?? []).filter((x): x is T => x !== undefined))];

/** A declared user and its index in `security.users` (for issue paths). */
export type DeclaredUser = { readonly user: UserSpec; readonly index: number; readonly explicitInbox: boolean };

export function parseUsers(v: Section["users"], path: string, accounts: readonly AccountSpec[], topology: Topology, invalid: ReadonlySet<string>, at: At): DeclaredUser[] {
  const out: DeclaredUser[] = [];
  (v ?? []).forEach((u, i) => {
    if (!u) return;
    const p = `${path}[${i}]`;
    const name = u.name ?? "";
    const twin = out.find((x) => x.user.name === name);
    if (name && twin) at(`${p}.name`, `duplicate user name '${name}' (also ${path}[${twin.index}]): user names must be unique`);
    const bound = serviceBindings(u) !== undefined && u.leafLink === undefined;
    const account = u.account ?? (bound ? name : "");
    const known = accounts.find((a) => a.name === account);
    const pickable = accounts.filter((a) => a.kind !== AccountKind.Service || a.name !== name).map((a) => a.name).join(", ");
    if (u.account === undefined && !bound && !invalid.has(`${p}.account`)) {
      at(`${p}.account`, `is required for a user without bindings: use one of ${pickable}, or declare what it does (publishes, consumes, reads, …) and it gets an account of its own`);
    } else if (!known && u.account !== undefined && !bound) {
      at(`${p}.account`, `unknown account ${JSON.stringify(u.account)}: use one of ${pickable}`);
    }
    const publish = subjectRule(u.publish);
    const subscribe = subjectRule(u.subscribe);
    const requestReply = u.requestReply ?? false;
    const explicitInbox = u.inboxPrefix !== undefined;
    const inboxPrefix = u.inboxPrefix ?? serviceInboxPrefix(name);
    const bindings = serviceBindings(u);
    const places = u.at === undefined ? undefined : servicePlaces(u.at, `${p}.at`, topology, at);
    if (bindings && u.at === undefined && !invalid.has(`${p}.at`)) at(`${p}.at`, `is required with bindings (${BINDING_KEYS.filter((k) => u[k] !== undefined).join(", ")}): say where '${name}' connects — leaves, hub, or a list of hosts`);
    const responses = responsePermission(u.allowResponses);
    const leafLink = u.leafLink === undefined ? undefined : leafName(u.leafLink, `${p}.leafLink`, topology, at);
    const connectionTypes: readonly ConnectionType[] = u.connectionTypes ? defined(u.connectionTypes) : leafLink === undefined ? DEFAULT_CONNECTION_TYPES : ["LEAFNODE"];
    if (leafLink !== undefined && known?.system) {
      at(`${p}.account`, `leaf-link user '${name}' is in the system account '${account}': leaves bind an application account; use ${accounts.filter((a) => !a.system).map((a) => a.name).join(", ")}`);
    }
    if (leafLink !== undefined && (bindings || u.at !== undefined || explicitInbox)) {
      at(`${p}.leafLink`, `leaf-link user '${name}' links a leaf; it connects nowhere as a service: remove at, inboxPrefix and the bindings, or remove leafLink`);
    }
    const service = leafLink === undefined;
    const user: UserSpec = {
      name,
      account,
      role: service ? UserRole.Service : UserRole.LeafLink,
      signedBy: "signing-key",
      publish,
      subscribe: requestReply && service ? withInbox(subscribe, inboxPrefix) : subscribe,
      ...(responses ? { responses } : {}),
      ...(leafLink === undefined ? {} : { leafLink }),
      connectionTypes,
      ...(service ? { inboxPrefix } : {}),
      ...(service && places ? { places } : {}),
      ...(service && bindings ? { bindings } : {}),
      grants: [],
    };
    out.push({ user, index: i, explicitInbox });
  });
  return out;
}

/** The bindings of a user (names once each), or undefined when it declares none. */
export function serviceBindings(u: RawUser): ServiceBindings | undefined {
  if (!BINDING_KEYS.some((k) => u[k] !== undefined)) return undefined;
  const buckets = (b: RawUser["reads"]) => ({ kv: defined(b?.kv), objects: defined(b?.objects) });
  return {
    publishes: defined(u.publishes),
    consumes: defined(u.consumes),
    subscribes: defined(u.subscribes),
    serves: defined(u.serves),
    reads: buckets(u.reads),
    writes: buckets(u.writes),
    watches: buckets(u.watches),
  };
}

/** `at` of a service: where it connects, as leaves and/or the hub. */
function servicePlaces(v: unknown, path: string, topology: Topology, at: At): ServicePlace[] {
  const issues = atIssues(v, path, topology);
  for (const i of issues) at(i.propertyPath, i.reason);
  if (issues.length) return [];
  return resolveAt(v as Place, topology).map((l) => ({ level: l.level, name: l.level === "hub" ? "hub" : l.serverNames[0], domain: l.domain }));
}

/** A request/reply client receives replies on its own inbox; with no allow list it can already. */
function withInbox(rule: SubjectRule, inboxPrefix: string): SubjectRule {
  const inbox = `${inboxPrefix}.>`;
  if (rule.allow.length === 0 || rule.allow.includes(inbox)) return rule;
  return { allow: [...rule.allow, inbox], deny: rule.deny };
}

function subjectRule(r: RawUser["publish"]): SubjectRule {
  return { allow: defined(r?.allow), deny: defined(r?.deny) };
}

/** `allowResponses`: true is one reply with no time limit; the schema checked max and ttl. */
function responsePermission(v: RawUser["allowResponses"]): ResponsePermission | undefined {
  if (v === undefined || v === false) return undefined;
  if (v === true) return { max: 1, ttlMs: 0 };
  return { max: v.max ?? 1, ttlMs: v.ttl === undefined ? 0 : (parseDurationMs(v.ttl) as number) };
}

function leafName(v: string, path: string, topology: Topology, at: At): string {
  const names = topology.leaves.map((l) => l.serverName);
  if (typeof v !== "string" || !names.includes(v)) {
    at(path, `${JSON.stringify(v)} is not a leaf server of the topology: use one of ${names.join(", ") || "(no leaves)"}`);
    return "";
  }
  return v;
}
