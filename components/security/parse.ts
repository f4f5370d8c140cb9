/**
 * Stack config (`cim-nats:security`) + topology → validated, frozen SecuritySpec. Pure: no I/O,
 * no keys, no Pulumi. Every problem is collected and thrown as one ConfigError naming its path
 * (`security.users[1].account`), so `pulumi preview` shows them all at once.
 */
import { subjectReason, tokenReason } from "../subjects/subject";
import { deepFreeze } from "../topology/freeze";
import { ConfigError, ConfigIssue, Topology } from "../topology/types";
import {
  AccountJetStreamLimits,
  AccountSpec,
  ConnectionType,
  JETSTREAM_ADMIN_USER,
  leafLinkUserName,
  ResponsePermission,
  SecuritySpec,
  SubjectRule,
  SYSTEM_MONITOR_USER,
  UserRole,
  UserSpec,
} from "./types";
import { parseByteSize, parseDurationMs } from "./units";
import { type At, isObject, objOrEmpty, unknownKeys } from "../topology/config-fields";

/** What a request/reply client subscribes to for its replies (nats.js and natscli default prefix). */
export const INBOX_SUBJECTS = "_INBOX.>";

const TOP_KEYS = ["operator", "systemAccount", "applicationAccount", "accounts", "users"];
const ACCOUNT_KEYS = ["name", "jetstream"];
const ACCOUNT_JS_KEYS = ["maxMemory", "maxFile", "maxStreams", "maxConsumers"];
const USER_KEYS = ["name", "account", "publish", "subscribe", "allowResponses", "requestReply", "leafLink", "connectionTypes"];
const CONNECTION_TYPES: readonly ConnectionType[] = ["STANDARD", "WEBSOCKET", "LEAFNODE", "LEAFNODE_WS", "MQTT", "MQTT_WS", "IN_PROCESS"];
/**
 * Connection types of users that don't say: clients only, so a service's creds cannot link a
 * rogue leaf into the account.
 */
export const DEFAULT_CONNECTION_TYPES: readonly ConnectionType[] = ["STANDARD", "WEBSOCKET"];
const RULE_KEYS = ["allow", "deny"];
const DEFAULT_SYSTEM_ACCOUNT = "SYS";
/** User names become creds file names and context references. */
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/**
 * Parses and validates `cim-nats:security` against the topology (leaf-link users need leaves);
 * throws ConfigError listing every problem.
 */
export function parseSecurity(raw: unknown, topology: Topology): SecuritySpec {
  const issues: ConfigIssue[] = [];
  const at: At = (propertyPath, reason) => issues.push({ propertyPath, reason });
  const root = "security";
  if (!isObject(raw)) {
    throw new ConfigError([{ propertyPath: root, reason: "missing: set `cim-nats:security` in Pulumi.<stack>.yaml with operator, accounts and users (see Pulumi.dev.yaml)" }]);
  }
  unknownKeys(raw, TOP_KEYS, root, at);

  const operator = token(raw.operator, `${root}.operator`, undefined, "operator name", at);
  const systemAccount = token(raw.systemAccount, `${root}.systemAccount`, DEFAULT_SYSTEM_ACCOUNT, "system account name", at);

  const accounts = parseAccounts(raw.accounts, `${root}.accounts`, systemAccount, at);
  jetStreamFitsLeaves(accounts, topology, `${root}.accounts`, at);
  const applicationAccount = pickApplicationAccount(raw.applicationAccount, `${root}.applicationAccount`, accounts, at);
  const allAccounts: AccountSpec[] = [...accounts, { name: systemAccount, system: true }];

  const parsed = parseUsers(raw.users, `${root}.users`, allAccounts, topology, at);
  const declared = parsed.map((p) => p.user);
  const leafLinks = leafLinkUsers(parsed, topology, applicationAccount, `${root}.users`, at);
  const derived: UserSpec[] = [
    ...leafLinks.derived,
    fullAccessUser(JETSTREAM_ADMIN_USER, applicationAccount, UserRole.JetStreamAdmin),
    fullAccessUser(SYSTEM_MONITOR_USER, systemAccount, UserRole.SystemMonitor),
  ];
  parsed.forEach(({ user: u, index }) => {
    const clash = derived.find((d) => d.name === u.name);
    if (clash) {
      at(`${root}.users[${index}].name`, `user name '${u.name}' is reserved for the derived ${clash.role} user${clash.leafLink ? ` of leaf '${clash.leafLink}'` : ""}: rename the user${clash.leafLink ? `, or declare it with \`leafLink: ${clash.leafLink}\`` : ""}`);
    }
  });

  if (issues.length > 0) throw new ConfigError(issues);
  return deepFreeze({
    operator,
    systemAccount,
    applicationAccount,
    accounts: allAccounts,
    users: [...declared, ...derived],
    leafLinks: leafLinks.byLeaf,
  });
}

function parseAccounts(v: unknown, path: string, systemAccount: string, at: At): AccountSpec[] {
  if (!Array.isArray(v) || v.length === 0) {
    at(path, "needs at least one application account: a list of { name, jetstream: { maxMemory, maxFile } }, e.g. [{ name: PLATFORM }]");
    return [];
  }
  const out: AccountSpec[] = [];
  v.forEach((a: unknown, i: number) => {
    const p = `${path}[${i}]`;
    if (!isObject(a)) {
      at(p, `must be an object { name, jetstream }, got ${JSON.stringify(a)}`);
      return;
    }
    unknownKeys(a, ACCOUNT_KEYS, p, at);
    const name = token(a.name, `${p}.name`, undefined, "account name", at);
    if (name === systemAccount) {
      at(`${p}.name`, `'${name}' is the system account (security.systemAccount); it is implied: remove it from accounts, or rename one of them`);
      return;
    }
    const twin = out.findIndex((x) => x.name === name);
    if (name && twin >= 0) at(`${p}.name`, `duplicate account name '${name}' (also ${path}[${twin}]): account names must be unique`);
    out.push({ name, system: false, ...(a.jetstream === undefined ? {} : { jetstream: jetStreamLimits(a.jetstream, `${p}.jetstream`, at) }) });
  });
  return out;
}

function jetStreamLimits(v: unknown, path: string, at: At): AccountJetStreamLimits {
  const r = objOrEmpty(v, path, at);
  unknownKeys(r, ACCOUNT_JS_KEYS, path, at);
  const size = (key: string): number => {
    if (r[key] === undefined) {
      at(`${path}.${key}`, `is required when jetstream is set: a size such as 1G, or -1 for unlimited`);
      return 0;
    }
    const bytes = parseByteSize(r[key]);
    if (typeof bytes === "string") {
      at(`${path}.${key}`, bytes);
      return 0;
    }
    return bytes;
  };
  const count = (key: string): number => {
    const x = r[key];
    if (x === undefined) return -1;
    if (typeof x !== "number" || !Number.isSafeInteger(x) || x < -1) {
      at(`${path}.${key}`, `${JSON.stringify(x)} is not a count: write a whole number, or -1 for unlimited`);
      return -1;
    }
    return x;
  };
  return { memoryBytes: size("maxMemory"), fileBytes: size("maxFile"), streams: count("maxStreams"), consumers: count("maxConsumers") };
}

function pickApplicationAccount(v: unknown, path: string, accounts: readonly AccountSpec[], at: At): string {
  if (v !== undefined) {
    if (typeof v !== "string" || !accounts.some((a) => a.name === v)) {
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
type DeclaredUser = { readonly user: UserSpec; readonly index: number };

function parseUsers(v: unknown, path: string, accounts: readonly AccountSpec[], topology: Topology, at: At): DeclaredUser[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    at(path, `must be a list of users { name, account, publish, subscribe }, got ${JSON.stringify(v)}`);
    return [];
  }
  const out: DeclaredUser[] = [];
  v.forEach((u: unknown, i: number) => {
    const p = `${path}[${i}]`;
    if (!isObject(u)) {
      at(p, `must be an object { name, account, publish, subscribe }, got ${JSON.stringify(u)}`);
      return;
    }
    unknownKeys(u, USER_KEYS, p, at);
    const name = userName(u.name, `${p}.name`, at);
    const twin = out.find((x) => x.user.name === name);
    if (name && twin) at(`${p}.name`, `duplicate user name '${name}' (also ${path}[${twin.index}]): user names must be unique`);
    const account = typeof u.account === "string" ? u.account : "";
    const known = accounts.find((a) => a.name === account);
    if (!known) {
      at(`${p}.account`, `${u.account === undefined ? "is required" : `unknown account ${JSON.stringify(u.account)}`}: use one of ${accounts.map((a) => a.name).join(", ")}`);
    }
    const publish = subjectRule(u.publish, `${p}.publish`, at);
    const subscribe = subjectRule(u.subscribe, `${p}.subscribe`, at);
    const requestReply = bool(u.requestReply, `${p}.requestReply`, at);
    const responses = responsePermission(u.allowResponses, `${p}.allowResponses`, at);
    const leafLink = u.leafLink === undefined ? undefined : leafName(u.leafLink, `${p}.leafLink`, topology, at);
    const connectionTypes = connectionTypeList(u.connectionTypes, `${p}.connectionTypes`, leafLink === undefined ? DEFAULT_CONNECTION_TYPES : ["LEAFNODE"], at);
    if (leafLink !== undefined && known?.system) {
      at(`${p}.account`, `leaf-link user '${name}' is in the system account '${account}': leaves bind an application account; use ${accounts.filter((a) => !a.system).map((a) => a.name).join(", ")}`);
    }
    const user: UserSpec = {
      name,
      account,
      role: leafLink === undefined ? UserRole.Service : UserRole.LeafLink,
      publish,
      subscribe: requestReply ? withInbox(subscribe) : subscribe,
      ...(responses ? { responses } : {}),
      ...(leafLink === undefined ? {} : { leafLink }),
      connectionTypes,
    };
    out.push({ user, index: i });
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
): { derived: UserSpec[]; byLeaf: Record<string, string> } {
  const explicit = declared.filter((d) => d.user.leafLink !== undefined);
  const byLeaf: Record<string, string> = {};
  if (explicit.length === 0) {
    const derived = topology.leaves.map((leaf) => ({
      ...fullAccessUser(leafLinkUserName(leaf.serverName), applicationAccount, UserRole.LeafLink),
      leafLink: leaf.serverName,
      connectionTypes: ["LEAFNODE" as const],
    }));
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

function fullAccessUser(name: string, account: string, role: UserRole): UserSpec {
  return { name, account, role, publish: { allow: [], deny: [] }, subscribe: { allow: [], deny: [] }, connectionTypes: DEFAULT_CONNECTION_TYPES };
}

function connectionTypeList(v: unknown, path: string, dflt: readonly ConnectionType[], at: At): readonly ConnectionType[] {
  if (v === undefined || v === null) return dflt;
  if (!Array.isArray(v) || v.length === 0) {
    at(path, `must be a non-empty list of connection types (${CONNECTION_TYPES.join(", ")}), got ${JSON.stringify(v)}`);
    return dflt;
  }
  const out: ConnectionType[] = [];
  v.forEach((t: unknown, i: number) => {
    if (!CONNECTION_TYPES.includes(t as ConnectionType)) at(`${path}[${i}]`, `unknown connection type ${JSON.stringify(t)}: use ${CONNECTION_TYPES.join(", ")}`);
    else if (!out.includes(t as ConnectionType)) out.push(t as ConnectionType);
  });
  return out;
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

/** A request/reply client receives replies on `_INBOX.>`; with no allow list it can already. */
function withInbox(rule: SubjectRule): SubjectRule {
  if (rule.allow.length === 0 || rule.allow.includes(INBOX_SUBJECTS)) return rule;
  return { allow: [...rule.allow, INBOX_SUBJECTS], deny: rule.deny };
}

function subjectRule(v: unknown, path: string, at: At): SubjectRule {
  const r = objOrEmpty(v, path, at);
  unknownKeys(r, RULE_KEYS, path, at);
  return { allow: subjects(r.allow, `${path}.allow`, at), deny: subjects(r.deny, `${path}.deny`, at) };
}

function subjects(v: unknown, path: string, at: At): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    at(path, `must be a list of subjects, e.g. ["person.events.>"], got ${JSON.stringify(v)}`);
    return [];
  }
  const out: string[] = [];
  v.forEach((s: unknown, i: number) => {
    if (typeof s !== "string") {
      at(`${path}[${i}]`, `must be a subject string, got ${JSON.stringify(s)}`);
      return;
    }
    const reason = subjectReason(s, true, "permission subject");
    if (reason) at(`${path}[${i}]`, reason);
    else if (out.includes(s)) at(`${path}[${i}]`, `subject '${s}' is listed twice: remove one`);
    else out.push(s);
  });
  return out;
}

function responsePermission(v: unknown, path: string, at: At): ResponsePermission | undefined {
  if (v === undefined || v === null || v === false) return undefined;
  if (v === true) return { max: 1, ttlMs: 0 };
  if (!isObject(v)) {
    at(path, `must be true, false or { max, ttl }, e.g. { max: 1, ttl: 2s }; got ${JSON.stringify(v)}`);
    return undefined;
  }
  unknownKeys(v, ["max", "ttl"], path, at);
  let max = 1;
  if (v.max !== undefined) {
    if (typeof v.max !== "number" || !Number.isSafeInteger(v.max) || v.max < 1) at(`${path}.max`, `${JSON.stringify(v.max)} is not a positive whole number of replies per request`);
    else max = v.max;
  }
  let ttlMs = 0;
  if (v.ttl !== undefined) {
    const ms = parseDurationMs(v.ttl);
    if (typeof ms === "string") at(`${path}.ttl`, ms);
    else ttlMs = ms;
  }
  return { max, ttlMs };
}

function leafName(v: unknown, path: string, topology: Topology, at: At): string {
  const names = topology.leaves.map((l) => l.serverName);
  if (typeof v !== "string" || !names.includes(v)) {
    at(path, `${JSON.stringify(v)} is not a leaf server of the topology: use one of ${names.join(", ") || "(no leaves)"}`);
    return "";
  }
  return v;
}

function userName(v: unknown, path: string, at: At): string {
  if (typeof v !== "string" || !USER_NAME.test(v)) {
    at(path, `${v === undefined ? "is required" : `${JSON.stringify(v)} is not a valid user name`}: use letters, digits, '-' and '_' (it names the .creds file), e.g. person-service`);
    return typeof v === "string" ? v : "";
  }
  return v;
}

function token(v: unknown, path: string, dflt: string | undefined, what: string, at: At): string {
  if (v === undefined || v === null) {
    if (dflt === undefined) at(path, `is required: the ${what}, e.g. ${what.startsWith("operator") ? "COWBOY_AI" : "PLATFORM"}`);
    return dflt ?? "";
  }
  if (typeof v !== "string") {
    at(path, `${what} must be a string, got ${JSON.stringify(v)}`);
    return "";
  }
  const reason = tokenReason(v, what);
  if (reason) at(path, `${reason}: use letters, digits, '-' or '_'`);
  return v;
}

function bool(v: unknown, path: string, at: At): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") {
    at(path, `must be true or false, got ${JSON.stringify(v)}`);
    return false;
  }
  return v;
}

