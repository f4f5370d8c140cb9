/**
 * The imports and exports between accounts, derived from the services' bindings: what makes
 * isolation by account work (docs/security.md). Each service account imports from the data
 * account exactly the subjects its users' bindings send (service imports, so every reply comes
 * back through nats-server's reply mapping and a reply subject can name only the service's own
 * account), and the messages it subscribes to (stream imports); the data account exports exactly
 * those, and imports what services serve. Pure: no I/O, no Pulumi.
 */
import type { AccountExport, AccountImport, AccountSpec, DataImport } from "./types";

/** What account-links needs of a user. */
export type LinkedUser = {
  readonly name: string;
  readonly account: string;
  readonly dataImports?: readonly DataImport[];
  readonly subscribes?: readonly string[];
  readonly serves?: readonly string[];
};

/** `accounts` with the imports and exports the users' bindings need between them and `dataAccount`. */
export function withAccountLinks(accounts: readonly AccountSpec[], users: readonly LinkedUser[], dataAccount: string): AccountSpec[] {
  const imports = new Map<string, AccountImport[]>();
  const exports = new Map<string, AccountExport[]>();
  const addImport = (account: string, i: AccountImport) => {
    const list = imports.get(account) ?? [];
    if (!list.some((x) => x.type === i.type && x.from === i.from && x.localSubject === i.localSubject)) list.push(i);
    imports.set(account, list);
  };
  const addExport = (account: string, e: AccountExport) => {
    const list = exports.get(account) ?? [];
    const same = list.findIndex((x) => x.type === e.type && x.subject === e.subject);
    // Several services importing one subject: a stream of responses wins over one.
    if (same >= 0) list[same] = list[same].responseType === "Stream" ? list[same] : e;
    else list.push(e);
    exports.set(account, list);
  };
  for (const u of users) {
    if (u.account === dataAccount) continue;
    for (const d of u.dataImports ?? []) {
      addImport(u.account, { type: "service", from: dataAccount, subject: d.subject, localSubject: d.subject, why: d.why });
      addExport(dataAccount, { type: "service", subject: d.subject, responseType: d.responseType });
    }
    for (const s of u.subscribes ?? []) {
      addImport(u.account, { type: "stream", from: dataAccount, subject: s, localSubject: s, why: "subscribes" });
      addExport(dataAccount, { type: "stream", subject: s });
    }
    for (const s of u.serves ?? []) {
      addExport(u.account, { type: "service", subject: s, responseType: "Singleton" });
      // Shared: the service learns which client asked (the server sets Nats-Request-Info; a client cannot forge it).
      addImport(dataAccount, { type: "service", from: u.account, subject: s, localSubject: s, why: `served by ${u.name}`, share: true });
    }
  }
  return accounts.map((a) => ({ ...a, imports: imports.get(a.name) ?? [], exports: exports.get(a.name) ?? [] }));
}
