/**
 * The accounts services with bindings live in, derived from `security.users`. Pure: no I/O, no
 * Pulumi.
 */
import { AccountKind, AccountSpec } from "./types";
import type { SecuritySection as Section } from "./schema";
import type { At } from "../config/fields";
import { serviceBindings } from "./declared-users";

/**
 * The service accounts bound users live in: a user with bindings and no `account` gets one of
 * its own (named after it); one naming an account nobody declared shares that trust group with
 * the others naming it. A service may not live in an account with JetStream: any request it may
 * send could make JetStream write into any stream of that account through its reply subject.
 */
export function deriveServiceAccounts(v: Section["users"], path: string, declared: readonly AccountSpec[], at: At): AccountSpec[] {
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
