/**
 * The connection target of every JetStream resource: its input checks and how a change of it
 * applies (a new domain is a different object; servers, credentials and tls update in place).
 * Pure: no I/O, no Pulumi.
 */
import { containsUnknown, deepEqual } from "../provider/canonical";
import type { InputFailure } from "./fields";
import type { ConnectionTarget } from "./types";
import { nameReason } from "../subjects";

/** Problems with a connection target. */
export function targetFailures(target: unknown, path = "target"): InputFailure[] {
  if (containsUnknown(target)) return [];
  const t = target as ConnectionTarget | undefined;
  if (!t || typeof t !== "object") return [{ property: path, reason: "a target is required: { servers: [client URLs], credentials?, tls?, domain? }" }];
  const f: InputFailure[] = [];
  if (!Array.isArray(t.servers) || t.servers.length === 0) f.push({ property: `${path}.servers`, reason: "list at least one client URL, e.g. nats://127.0.0.41:4222" });
  if (t.domain !== undefined && t.domain !== "" && nameReason(t.domain, "domain")) f.push({ property: `${path}.domain`, reason: nameReason(t.domain, "domain") });
  const c = t.credentials ?? {};
  const kinds = (["creds", "seed", "token"] as const).filter((k) => c[k]).length + (c.user ? 1 : 0);
  if (kinds > 1) f.push({ property: `${path}.credentials`, reason: "give one kind of credentials: creds, seed, user/password or token" });
  return f;
}

/** Target changes: a new domain is a different stream (replace); servers/credentials/tls update. */
export function targetChange(olds: ConnectionTarget | undefined, news: ConnectionTarget): "none" | "update" | "replace" {
  if (containsUnknown(news)) return "update";
  if ((olds?.domain ?? "") !== (news.domain ?? "")) return "replace";
  return deepEqual(olds, news) ? "none" : "update";
}

/** `<kind> <domain>/<name>` for messages: `stream hub/ORDERS`, `kv bucket nats-1/PERSON`. */
export function describeAt(kind: string, target: ConnectionTarget, name: string): string {
  return `${kind} ${target.domain ? `${target.domain}/` : ""}${name}`;
}
