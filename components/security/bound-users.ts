/**
 * Bound users: the declared users with the permissions their bindings derive (service-grants.ts)
 * merged in, and the checks across them — a consumer bound twice, inboxes that collide or that
 * another user may read, services whose subjects overlap. Pure: no I/O, no Pulumi.
 */
import { UserSpec } from "./types";
import type { Grant } from "./types";
import type { At } from "../config/fields";
import type { JetStreamSpec } from "../jetstream/spec";
import { subjectCovers, subjectsOverlap } from "../subjects/subject";
import { deriveServicePermissions } from "./service-grants";
import { inboxesCollide, SHARED_INBOX_PREFIX } from "./inboxes";
import type { DeclaredUser } from "./declared-users";

/**
 * Bound users get their derived permissions (added to any plain allow lists); then the checks
 * across users: inboxes that collide or that another user may read, and a durable consumer
 * bound to two users (refused: a pull consumer hands each message to one puller, so each
 * service would silently see only part of the stream; give each its own consumer).
 */
export function deriveBindings(parsed: readonly DeclaredUser[], jetstream: JetStreamSpec | null, path: string, at: At): UserSpec[] {
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

/**
 * Two accounts serving overlapping subjects would both get every request the data account
 * imports for them (two answers); instances of one service share its account and are fine.
 */
export function servesDoNotOverlap(parsed: readonly DeclaredUser[], users: readonly UserSpec[], path: string, at: At): void {
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

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])];
}
