/**
 * The users the stack derives rather than declares: each leaf's leaf-link user (unless users
 * declare them) and system-link user, and the full-access JetStream admin and system monitor.
 * Pure: no I/O, no Pulumi.
 */
import { Topology } from "../topology/types";
import { leafLinkUserName, SubjectRule, systemLinkUserName, UserRole, UserSpec } from "./types";
import { DEFAULT_CONNECTION_TYPES } from "./schema";
import type { At } from "../config/fields";
import type { JetStreamSpec } from "../jetstream/spec";
import { leafLinkPermissions, systemLinkPermissions } from "./leaf-links";
import type { DeclaredUser } from "./declared-users";

/**
 * Leaf-link users: derived (`leaf-<leaf>` in the application account) when no user declares
 * `leafLink`; otherwise declared, and then every leaf needs exactly one.
 */
export function leafLinkUsers(
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
export function fullAccessUser(name: string, account: string, role: UserRole): UserSpec {
  return { name, account, role, signedBy: "account", publish: { allow: [], deny: [] }, subscribe: { allow: [], deny: [] }, connectionTypes: DEFAULT_CONNECTION_TYPES, grants: [] };
}

/** The system link of one leaf: JWT updates and resolver sync only (leaf-links.ts), LEAFNODE only. */
export function systemLinkUser(leafServer: string, systemAccount: string): UserSpec {
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
