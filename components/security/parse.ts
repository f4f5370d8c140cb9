/**
 * Stack config (`cim-nats:security`) + topology → validated, frozen SecuritySpec. Pure: no I/O,
 * no keys, no Pulumi. Field shapes and grammars (names, subjects, sizes, durations, connection
 * types) are the declared schema's (schema.ts); here: defaults, the rules across users
 * and accounts and against the topology and JetStream, and the derived users. Every problem is
 * thrown as one ConfigError naming its path (`security.users[1].account`), in config order.
 */
import { deepFreeze } from "../topology/freeze";
import { ConfigError, type ConfigIssue } from "../config/errors";
import { Topology } from "../topology/types";
import {
  AccountKind,
  AccountSpec,
  ConnectionType,
  type IdentitiesSpec,
  IdentitySource,
  JETSTREAM_ADMIN_USER,
  leafLinkUserName,
  ResponsePermission,
  SecuritySpec,
  SubjectRule,
  SYSTEM_MONITOR_USER,
  systemLinkUserName,
  UserRole,
  UserSpec,
} from "./types";
import { parseByteSize, parseDurationMs } from "./units";
import { bindingFields, DEFAULT_CONNECTION_TYPES, DEFAULT_SYSTEM_ACCOUNT, securitySchema } from "./schema";
import { checkSection, inConfigOrder, type Loose } from "../config/validate";
import { type At, isObject } from "../config/fields";
import type { z } from "zod";
import type { JetStreamSpec } from "../jetstream/spec";
import { atIssues, resolveAt, type At as Place } from "../jetstream/locations";
import { subjectCovers, subjectsOverlap } from "../subjects/subject";
import { deriveServicePermissions } from "./service-grants";
import { inboxesCollide, serviceInboxPrefix, SHARED_INBOX_PREFIX } from "./inboxes";
import { leafLinkPermissions, systemLinkPermissions } from "./leaf-links";
import { withAccountLinks } from "./account-links";
import type { Grant, ServiceBindings, ServicePlace } from "./types";
/** No JetStream declarations: what bindings are checked against when the caller passes none. */
const NO_JETSTREAM: JetStreamSpec = { streams: [], aggregates: [], kv: [], objects: [], consumers: [] };

type Section = Loose<z.output<typeof securitySchema>>;
type RawUser = NonNullable<NonNullable<Section["users"]>[number]>;
const BINDING_KEYS = Object.keys(bindingFields) as (keyof typeof bindingFields)[];
const defined = <T>(list: readonly (T | undefined)[] | undefined): T[] => [...new Set((list ?? []).filter((x): x is T => x !== undefined))];

/**
 * Parses and validates `cim-nats:security` against the topology (leaf-link users need leaves)
 * and the JetStream declarations service bindings name (service-grants.ts derives their
 * permissions); throws ConfigError listing every problem. `jetstream` null: that section is
 * itself invalid, so binding names are not checked (its own issues say why).
 */
export function parseSecurity(raw: unknown, topology: Topology, jetstream: JetStreamSpec | null = NO_JETSTREAM): SecuritySpec {
  const issues: ConfigIssue[] = [];
  const at: At = (propertyPath, reason) => issues.push({ propertyPath, reason });
  const root = "security";
  if (!isObject(raw)) {
    throw new ConfigError([{ propertyPath: root, reason: "missing: set `cim-nats:security` in Pulumi.<stack>.yaml with operator, accounts and users (see Pulumi.dev.yaml)" }]);
  }
  const checked = checkSection(securitySchema, raw, root);
  const invalid = new Set(checked.issues.map((i) => i.propertyPath));
  const s: Section = checked.value;

  const operator = s.operator ?? "";
  const systemAccount = s.systemAccount ?? DEFAULT_SYSTEM_ACCOUNT;

  const accounts = parseAccounts(s.accounts, `${root}.accounts`, systemAccount, at);
  jetStreamFitsLeaves(accounts, topology, `${root}.accounts`, at);
  const applicationAccount = pickApplicationAccount(s.applicationAccount, `${root}.applicationAccount`, accounts, at);
  const systemSpec: AccountSpec = { name: systemAccount, system: true, kind: AccountKind.System, imports: [], exports: [] };
  issues.unshift(...checked.issues);

  const identities = parseIdentities(s.identities, `${root}.identities`, [...accounts.map((a) => a.name), systemAccount], at);
  const serviceAccounts = deriveServiceAccounts(s.users, `${root}.users`, [...accounts, systemSpec], at);
  const allAccounts: AccountSpec[] = [...accounts, ...serviceAccounts, systemSpec];
  const parsed = parseUsers(s.users, `${root}.users`, allAccounts, topology, invalid, at);
  const declared = deriveBindings(parsed, jetstream, `${root}.users`, at);
  servesDoNotOverlap(parsed, declared, `${root}.users`, at);
  const leafLinks = leafLinkUsers(parsed, topology, applicationAccount, `${root}.users`, at, { users: declared, jetstream });
  const systemLinks = topology.leaves.map((leaf) => systemLinkUser(leaf.serverName, systemAccount));
  const derived: UserSpec[] = [
    ...leafLinks.derived,
    ...systemLinks,
    fullAccessUser(JETSTREAM_ADMIN_USER, applicationAccount, UserRole.JetStreamAdmin),
    fullAccessUser(SYSTEM_MONITOR_USER, systemAccount, UserRole.SystemMonitor),
  ];
  parsed.forEach(({ user: u, index }) => {
    const clash = derived.find((d) => d.name === u.name);
    if (clash) {
      at(`${root}.users[${index}].name`, `user name '${u.name}' is reserved for the derived ${clash.role} user${clash.leafLink ? ` of leaf '${clash.leafLink}'` : ""}: rename the user${clash.leafLink ? `, or declare it with \`leafLink: ${clash.leafLink}\`` : ""}`);
    }
  });

  if (issues.length > 0) throw new ConfigError(inConfigOrder(issues, raw, root));
  const users = [...declared, ...derived];
  return deepFreeze({
    operator,
    systemAccount,
    applicationAccount,
    accounts: withAccountLinks(
      allAccounts,
      users.map((u) => ({
        name: u.name,
        account: u.account,
        dataImports: u.dataImports,
        subscribes: [...(u.bindings?.subscribes ?? []), ...(u.inboxDeliveries && u.inboxPrefix ? [`${u.inboxPrefix}.>`] : [])],
        serves: u.bindings?.serves,
      })),
      applicationAccount,
    ),
    users,
    leafLinks: leafLinks.byLeaf,
    systemLinks: Object.fromEntries(systemLinks.map((u) => [u.leafLink!, u.name])),
    identities,
  });
}

/**
 * `security.identities`: where the keys come from. The keys themselves are read at the edge
 * (nsc-store.ts, or the secret `cim-nats:identitySeeds`) and checked against the spec there.
 */
function parseIdentities(v: Section["identities"], path: string, accountNames: readonly string[], at: At): IdentitiesSpec {
  const source = v?.source ?? IdentitySource.Generated;
  if (source === IdentitySource.Nsc && v?.dir === undefined) {
    at(`${path}.dir`, "is required with source nsc: the folder holding nsc's stores/ and keys/ (the parent of the \"Stores Dir\" `nsc env` prints, e.g. ~/.local/share/nats/nsc)");
  }
  if (source !== IdentitySource.Nsc) {
    for (const key of ["dir", "keysDir", "undeclaredUsers"] as const) {
      if (v?.[key] !== undefined) at(`${path}.${key}`, `applies to source nsc only (source is ${source}): remove it, or set source: nsc`);
    }
  }
  for (const account of Object.keys(v?.signingKeys ?? {})) {
    if (!accountNames.includes(account)) at(`${path}.signingKeys.${account}`, `'${account}' is not a declared account: use one of ${accountNames.join(", ")}`);
  }
  return {
    source,
    ...(v?.dir !== undefined ? { dir: v.dir } : {}),
    ...(v?.keysDir !== undefined ? { keysDir: v.keysDir } : {}),
    signingKeys: Object.fromEntries(Object.entries(v?.signingKeys ?? {}).map(([a, keys]) => [a, [...new Set((keys ?? []).filter((k): k is string => typeof k === "string"))]])),
    undeclaredUsers: v?.undeclaredUsers ?? "keep",
    allowSwitch: v?.allowSwitch ?? false,
  };
}

/**
 * The service accounts bound users live in: a user with bindings and no `account` gets one of
 * its own (named after it); one naming an account nobody declared shares that trust group with
 * the others naming it. A service may not live in an account with JetStream: any request it may
 * send could make JetStream write into any stream of that account through its reply subject.
 */
function deriveServiceAccounts(v: Section["users"], path: string, declared: readonly AccountSpec[], at: At): AccountSpec[] {
  const out: AccountSpec[] = [];
  (v ?? []).forEach((u, i) => {
    if (!u || u.leafLink !== undefined || !serviceBindings(u)) return;
    const name = u.account ?? u.name ?? "";
    if (!name) return;
    const known = declared.find((a) => a.name === name);
    if (known?.system) {
      at(`${path}[${i}].account`, `'${name}' is the system account: services with bindings live in accounts of their own; remove \`account\``);
    } else if (known?.jetstream) {
      at(
        `${path}[${i}]${u.account === undefined ? ".name" : ".account"}`,
        u.account === undefined
          ? `service '${name}' would get an account of its own named '${name}', but that is a declared account with JetStream: rename the user`
          : `'${name}' holds JetStream (streams and buckets): a service in it could make JetStream write into any of its streams through the reply subject of a request it may send. ` +
              `Remove \`account\` (the service gets an account of its own and reaches '${name}' through the imports its bindings derive), or name a trust group it shares with the services it trusts`,
      );
    } else if (!known && !out.some((a) => a.name === name)) {
      out.push({ name, system: false, kind: AccountKind.Service, imports: [], exports: [] });
    }
  });
  return out;
}

/**
 * Two accounts serving overlapping subjects would both get every request the data account
 * imports for them (two answers); instances of one service share its account and are fine.
 */
function servesDoNotOverlap(parsed: readonly DeclaredUser[], users: readonly UserSpec[], path: string, at: At): void {
  const seen: { account: string; user: string; subject: string }[] = [];
  users.forEach((u, n) => {
    for (const [j, subject] of (u.bindings?.serves ?? []).entries()) {
      const other = seen.find((x) => x.account !== u.account && subjectsOverlap(x.subject, subject));
      if (other) {
        at(
          `${path}[${parsed[n].index}].serves[${j}]`,
          `'${subject}' overlaps '${other.subject}' served by '${other.user}' (account '${other.account}'): each request would reach both services; serve disjoint subjects, or put both in one trust group (\`account\`)`,
        );
      }
      seen.push({ account: u.account, user: u.name, subject });
    }
  });
}

/** Accounts: unique, and not the implied system account; limits in bytes. */
function parseAccounts(v: Section["accounts"], path: string, systemAccount: string, at: At): AccountSpec[] {
  const out: AccountSpec[] = [];
  (v ?? []).forEach((a, i) => {
    if (!a) return;
    const p = `${path}[${i}]`;
    const name = a.name ?? "";
    if (name === systemAccount) {
      at(`${p}.name`, `'${name}' is the system account (security.systemAccount); it is implied: remove it from accounts, or rename one of them`);
      return;
    }
    const twin = out.findIndex((x) => x.name === name);
    if (name && twin >= 0) at(`${p}.name`, `duplicate account name '${name}' (also ${path}[${twin}]): account names must be unique`);
    const js = a.jetstream;
    const bytes = (x: unknown) => (x === undefined ? 0 : (parseByteSize(x) as number));
    out.push({
      name,
      system: false,
      kind: js ? AccountKind.Data : AccountKind.Plain,
      ...(js ? { jetstream: { memoryBytes: bytes(js.maxMemory), fileBytes: bytes(js.maxFile), streams: js.maxStreams ?? -1, consumers: js.maxConsumers ?? -1 } } : {}),
      imports: [],
      exports: [],
    });
  });
  return out;
}

function pickApplicationAccount(v: string | undefined, path: string, accounts: readonly AccountSpec[], at: At): string {
  if (v !== undefined) {
    if (!accounts.some((a) => a.name === v)) {
      at(path, `${JSON.stringify(v)} is not a declared account: use one of ${accounts.map((a) => a.name).join(", ") || "(none declared)"}`);
    }
    return String(v);
  }
  if (accounts.length > 1) {
    at(path, `is required with several accounts (${accounts.map((a) => a.name).join(", ")}): name the one leaves bind and the JetStream admin uses`);
  }
  return accounts[0]?.name ?? "";
}

/** A declared user and its index in `security.users` (for issue paths). */
type DeclaredUser = { readonly user: UserSpec; readonly index: number; readonly explicitInbox: boolean };

function parseUsers(v: Section["users"], path: string, accounts: readonly AccountSpec[], topology: Topology, invalid: ReadonlySet<string>, at: At): DeclaredUser[] {
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

/**
 * Leaf-link users: derived (`leaf-<leaf>` in the application account) when no user declares
 * `leafLink`; otherwise declared, and then every leaf needs exactly one.
 */
function leafLinkUsers(
  declared: readonly DeclaredUser[],
  topology: Topology,
  applicationAccount: string,
  path: string,
  at: At,
  services: { readonly users: readonly UserSpec[]; readonly jetstream: JetStreamSpec | null },
): { derived: UserSpec[]; byLeaf: Record<string, string> } {
  const explicit = declared.filter((d) => d.user.leafLink !== undefined);
  const byLeaf: Record<string, string> = {};
  if (explicit.length === 0) {
    // Least privilege on the link (leaf-links.ts leafLinkPermissions): only bindings cross it, so
    // users without bindings change nothing here. Nothing to carry is deny-all (an empty allow
    // list would mean everything).
    const bound = services.jetstream !== null;
    const rule = (allow: readonly string[]): SubjectRule => (allow.length ? { allow, deny: [] } : { allow: [], deny: [">"] });
    const derived = topology.leaves.map((leaf) => {
      const link = bound
        ? leafLinkPermissions({ leafServer: leaf.serverName, domain: leaf.jetstreamDomain, users: services.users, jetstream: services.jetstream! })
        : { publish: [], subscribe: [] };
      return {
        ...fullAccessUser(leafLinkUserName(leaf.serverName), applicationAccount, UserRole.LeafLink),
        ...(bound ? { publish: rule(link.publish), subscribe: rule(link.subscribe) } : {}),
        leafLink: leaf.serverName,
        connectionTypes: ["LEAFNODE" as const],
        signedBy: "signing-key" as const,
      };
    });
    for (const u of derived) byLeaf[u.leafLink] = u.name;
    return { derived, byLeaf };
  }
  for (const { user, index } of explicit) {
    const leaf = user.leafLink!;
    if (byLeaf[leaf] !== undefined) {
      at(`${path}[${index}].leafLink`, `leaf '${leaf}' already has leaf-link user '${byLeaf[leaf]}': each leaf has exactly one; remove one of them`);
    } else if (leaf) {
      byLeaf[leaf] = user.name;
    }
  }
  for (const leaf of topology.leaves) {
    if (byLeaf[leaf.serverName] === undefined) {
      at(path, `leaf '${leaf.serverName}' has no leaf-link user: add a user with \`leafLink: ${leaf.serverName}\`, or remove every \`leafLink\` to derive one per leaf (${leafLinkUserName(leaf.serverName)})`);
    }
  }
  return { derived: [], byLeaf };
}

/**
 * A derived user with the account's full access, signed by the account key itself: it works on a
 * server that knows only the account's bootstrap JWT (a new or wiped server, before any push).
 */
function fullAccessUser(name: string, account: string, role: UserRole): UserSpec {
  return { name, account, role, signedBy: "account", publish: { allow: [], deny: [] }, subscribe: { allow: [], deny: [] }, connectionTypes: DEFAULT_CONNECTION_TYPES, grants: [] };
}

/** The system link of one leaf: JWT updates and resolver sync only (leaf-links.ts), LEAFNODE only. */
function systemLinkUser(leafServer: string, systemAccount: string): UserSpec {
  const p = systemLinkPermissions(leafServer);
  return {
    name: systemLinkUserName(leafServer),
    account: systemAccount,
    role: UserRole.SystemLink,
    signedBy: "signing-key",
    publish: { allow: p.publish, deny: [] },
    subscribe: { allow: p.subscribe, deny: [] },
    leafLink: leafServer,
    connectionTypes: ["LEAFNODE"],
    grants: [],
  };
}

/**
 * Bound users get their derived permissions (added to any plain allow lists); then the checks
 * across users: inboxes that collide or that another user may read, and a durable consumer
 * bound to two users (refused: a pull consumer hands each message to one puller, so each
 * service would silently see only part of the stream; give each its own consumer).
 */
function deriveBindings(parsed: readonly DeclaredUser[], jetstream: JetStreamSpec | null, path: string, at: At): UserSpec[] {
  const consumerUsers = new Map<string, { user: string; index: number }[]>();
  const users = parsed.map(({ user, index }) => {
    if (!user.bindings || !user.places || jetstream === null) return user;
    const d = deriveServicePermissions({
      user: user.name,
      inboxPrefix: user.inboxPrefix!,
      places: user.places,
      bindings: user.bindings,
      jetstream,
      path: `${path}[${index}]`,
      at,
    });
    for (const key of new Set(d.consumers)) consumerUsers.set(key, [...(consumerUsers.get(key) ?? []), { user: user.name, index }]);
    const merged: UserSpec = {
      ...user,
      publish: { allow: union(user.publish.allow, d.publish), deny: user.publish.deny },
      subscribe: { allow: union(user.subscribe.allow, d.subscribe), deny: user.subscribe.deny },
      ...(d.responds && !user.responses ? { responses: { max: 1, ttlMs: 0 } } : {}),
      grants: d.grants as Grant[],
      dataImports: d.imports,
      ...(d.inboxDeliveries ? { inboxDeliveries: d.inboxDeliveries } : {}),
    };
    return merged;
  });
  for (const [key, bound] of consumerUsers) {
    if (bound.length < 2) continue;
    const [domain, stream, consumer] = key.split("/");
    at(
      `${path}[${bound[1].index}].consumes`,
      `consumer '${consumer}' on ${stream} (domain ${domain}) is bound to users ${bound.map((b) => `'${b.user}'`).join(" and ")}: a durable pull consumer gives each message to one puller, so each service would silently get only part of the stream. ` +
        `Declare one consumer per service under jetstream.consumers (instances of one service share its user, and its consumer)`,
    );
  }
  inboxChecks(parsed, users, path, at);
  return users;
}

function inboxChecks(parsed: readonly DeclaredUser[], users: readonly UserSpec[], path: string, at: At): void {
  const services = parsed.map((p, n) => ({ ...p, user: users[n] })).filter((p) => p.user.inboxPrefix !== undefined);
  for (const [n, a] of services.entries()) {
    for (const b of services.slice(0, n)) {
      // Same name: already reported as a duplicate user.
      if (a.user.name !== b.user.name && a.user.inboxPrefix && b.user.inboxPrefix && inboxesCollide(a.user.inboxPrefix, b.user.inboxPrefix)) {
        at(
          `${path}[${a.index}].inboxPrefix`,
          `inbox prefix '${a.user.inboxPrefix}' of '${a.user.name}' collides with '${b.user.inboxPrefix}' of '${b.user.name}': each could read the other's replies; give each user its own (default _INBOX_<user>)`,
        );
      }
    }
  }
  // A plain subscribe allow that covers another user's inbox (or the shared one) reads its replies.
  for (const a of services) {
    a.user.subscribe.allow.forEach((subject) => {
      const first = subject.split(".")[0];
      if (first === SHARED_INBOX_PREFIX) {
        at(`${path}[${a.index}].subscribe.allow`, `'${subject}' is the shared inbox every client replies on by default: '${a.user.name}' could read every service's replies. Remove it; bound users get their own inbox ('${a.user.inboxPrefix}.>'), others use requestReply: true`);
        return;
      }
      for (const b of services) {
        if (b === a || !b.user.inboxPrefix) continue;
        if (first === b.user.inboxPrefix || subjectCovers(subject, `${b.user.inboxPrefix}.reply`)) {
          at(`${path}[${a.index}].subscribe.allow`, `'${subject}' covers the inbox of '${b.user.name}' ('${b.user.inboxPrefix}.>'): '${a.user.name}' could read its replies; narrow it, or add '${b.user.inboxPrefix}.>' to subscribe.deny`);
        }
      }
    });
  }
}

/** The bindings of a user (names once each), or undefined when it declares none. */
function serviceBindings(u: RawUser): ServiceBindings | undefined {
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

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])];
}

/**
 * A standalone (leaf) server enables JetStream for an account only if the account's limits fit
 * in its own `max_mem`/`max_file`, summed over every account (nats-server error 10028/10047,
 * "insufficient resources"); the leaf would then refuse every JetStream request of that
 * account. Hub members are clustered and don't check.
 */
function jetStreamFitsLeaves(accounts: readonly AccountSpec[], topology: Topology, path: string, at: At): void {
  const limited = accounts.map((a, i) => ({ a, i })).filter(({ a }) => a.jetstream);
  if (limited.length === 0) return;
  const checks = [
    { key: "maxMemory", server: "max_mem", bytes: (a: AccountSpec) => a.jetstream!.memoryBytes, of: (l: Topology["leaves"][number]) => l.jetstream.maxMemory },
    { key: "maxFile", server: "max_file", bytes: (a: AccountSpec) => a.jetstream!.fileBytes, of: (l: Topology["leaves"][number]) => l.jetstream.maxFile },
  ] as const;
  for (const check of checks) {
    const total = limited.reduce((sum, { a }) => sum + Math.max(0, check.bytes(a)), 0);
    const tight = topology.leaves
      .map((leaf) => ({ leaf, bytes: parseByteSize(check.of(leaf)) }))
      .filter((x): x is { leaf: Topology["leaves"][number]; bytes: number } => typeof x.bytes === "number" && x.bytes >= 0 && total > x.bytes)
      .sort((x, y) => x.bytes - y.bytes)[0];
    if (!tight) continue;
    const where = limited.length === 1 ? `${path}[${limited[0].i}].jetstream.${check.key}` : path;
    const what = limited.length === 1 ? `account '${limited[0].a.name}' jetstream.${check.key}` : `the accounts' jetstream.${check.key} together`;
    at(
      where,
      `${what} (${total} bytes) exceeds leaf '${tight.leaf.serverName}' JetStream ${check.server} ${check.of(tight.leaf)} (${tight.bytes} bytes): ` +
        `a leaf server refuses JetStream for an account whose limits don't fit (nats-server error 10028, insufficient resources); ` +
        `lower it to at most ${check.of(tight.leaf)}, or set -1 to let the servers' own limits apply`,
    );
  }
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
