/**
 * Stack config (`cim-nats:security`) + topology → validated, frozen SecuritySpec. Pure: no I/O,
 * no keys, no Pulumi. Field shapes and grammars (names, subjects, sizes, durations, connection
 * types) are the declared schema's (schema.ts); here: the section's accounts and identities and
 * the assembly of the spec from the users declared (declared-users.ts), their service accounts
 * (service-accounts.ts) and derived permissions (bound-users.ts), the users the stack derives
 * (derived-users.ts) and the leaves' JetStream capacity (leaf-capacity.ts). Every problem is
 * thrown as one ConfigError naming its path (`security.users[1].account`), in config order.
 */
import { deepFreeze } from "../topology/freeze";
import { ConfigError, type ConfigIssue } from "../config/errors";
import { Topology } from "../topology/types";
import { AccountKind, AccountSpec, type IdentitiesSpec, IdentitySource, JETSTREAM_ADMIN_USER, SecuritySpec, SYSTEM_MONITOR_USER, UserRole, UserSpec } from "./types";
import { parseByteSize } from "./units";
import { DEFAULT_SYSTEM_ACCOUNT, securitySchema, type SecuritySection as Section } from "./schema";
import { checkSection, inConfigOrder } from "../config/validate";
import { type At, isObject } from "../config/fields";
import type { JetStreamSpec } from "../jetstream/spec";
import { withAccountLinks } from "./account-links";
import { parseUsers } from "./declared-users";
import { deriveServiceAccounts } from "./service-accounts";
import { deriveBindings, servesDoNotOverlap } from "./bound-users";
import { fullAccessUser, leafLinkUsers, systemLinkUser } from "./derived-users";
import { jetStreamFitsLeaves } from "./leaf-capacity";
/** No JetStream declarations: what bindings are checked against when the caller passes none. */
const NO_JETSTREAM: JetStreamSpec = { streams: [], aggregates: [], kv: [], objects: [], consumers: [] };

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
