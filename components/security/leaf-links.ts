/**
 * What each leaf's two leafnode links may carry. nats-server reads a leaf-link JWT's `sub` as what
 * the leaf **imports** from the hub and `pub` as what it **exports** (leafnode.go: Import =
 * Subscribe, Export = Publish), sends both to the leaf for local enforcement, and reverses them
 * inside the hub. Pure: no I/O, no Pulumi.
 *
 * The application link binds the leaf's data account to the hub's: the aggregates' sourcing and
 * what services' imports send across places. The system link binds the system accounts: account
 * JWT updates reach the leaf, and a leaf that was cut off fetches what it missed when it links
 * again — nothing else.
 */
import { createHash } from "node:crypto";
import type { JetStreamSpec } from "../jetstream/spec";
import { subjectCovers } from "../subjects/subject";
import type { DataImport, InboxDeliveries, ServiceBindings, ServicePlace } from "./types";

/** Reply subjects nats-server gives requests that travel through a service import (`_R_.<acc>.<id>`). */
export const SERVICE_IMPORT_REPLIES = "_R_.>";

/**
 * What the application link of one leaf may carry, from the leaf's point of view:
 *
 * imports (sub.allow)
 * - `$JS.<leaf>.API.>` and `$JS.FC.<stream>.>` when an aggregate sources a stream of this leaf:
 *   the hub creates and checks the sourcing consumer in the leaf's domain.
 * - what services elsewhere send to a store kept at this leaf alone (their imports' subjects),
 *   and the replies to what services here send elsewhere (`_R_.>`).
 * - what services here subscribe to (messages published elsewhere), and the deliveries of the
 *   consumers that services here watch buckets elsewhere with (their inboxes).
 * exports (pub.allow)
 * - `$JS.S.>` (sourced messages) and `$JSC.R.>` (API replies) when an aggregate sources it.
 * - what services here send to resources in other domains (their imports that cross from this
 *   leaf), and the replies to what services elsewhere send here (`_R_.>`) — with the deliveries
 *   of consumers services elsewhere watch a bucket here with (their inboxes).
 * Only bindings cross a link; requests a service `serves` are answered where it connects.
 * A leaf with nothing to carry gets deny-all from the caller (an empty allow list means all).
 */
export function leafLinkPermissions(args: {
  readonly leafServer: string;
  readonly domain: string;
  readonly users: readonly {
    readonly places?: readonly ServicePlace[];
    readonly bindings?: ServiceBindings;
    /** What its account imports from the data account (service-grants.ts). */
    readonly dataImports?: readonly DataImport[];
    readonly inboxPrefix?: string;
    readonly inboxDeliveries?: InboxDeliveries;
  }[];
  readonly jetstream: JetStreamSpec;
}): { readonly publish: string[]; readonly subscribe: string[] } {
  const { leafServer, domain, users, jetstream: js } = args;
  const pub = new Set<string>();
  const sub = new Set<string>();
  const sourced = js.aggregates.filter((a) => a.config.sources?.some((s) => s.external?.api === `$JS.${domain}.API`));
  if (sourced.length) {
    sub.add(`$JS.${domain}.API.>`);
    for (const a of sourced) sub.add(`$JS.FC.${a.leafStream.name}.>`);
    pub.add("$JS.S.>");
    pub.add("$JSC.R.>");
  }
  const isHere = (u: (typeof users)[number]) => u.places?.some((p) => p.level === "leaf" && p.name === leafServer) ?? false;
  for (const u of users) {
    for (const i of u.dataImports ?? []) {
      if (isHere(u) && i.crossesFrom.includes(leafServer)) {
        pub.add(i.subject);
        sub.add(SERVICE_IMPORT_REPLIES);
      }
      if (i.targetDomain === domain && i.crossesFrom.some((from) => from !== leafServer)) {
        sub.add(i.subject);
        pub.add(SERVICE_IMPORT_REPLIES);
      }
    }
    if (isHere(u)) for (const s of u.bindings?.subscribes ?? []) sub.add(s);
    // A watcher's consumer elsewhere delivers to its inbox: in where it connects, out where the bucket is.
    if (u.inboxDeliveries && u.inboxPrefix) {
      if (isHere(u) && u.inboxDeliveries.crossesFrom.includes(leafServer)) sub.add(`${u.inboxPrefix}.>`);
      if (u.inboxDeliveries.fromDomains.includes(domain)) pub.add(`${u.inboxPrefix}.>`);
    }
  }
  return { publish: compact(pub), subscribe: compact(sub) };
}

/**
 * What the system link of one leaf may carry (measured on 2.15.2 with the full resolver): JWT
 * updates in, the leaf's own resolver lookups and sync requests out, and the replies to those —
 * on the leaf's own system inbox only (`$SYS._INBOX.<hash of its server name>.*`), so the holder
 * of a stolen system-link creds file reads no other server's internal replies.
 */
export function systemLinkPermissions(leafServer: string): { readonly publish: string[]; readonly subscribe: string[] } {
  return {
    publish: ["$SYS.REQ.CLAIMS.PACK", "$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP"],
    subscribe: ["$SYS.REQ.CLAIMS.UPDATE", "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE", `$SYS._INBOX.${serverHash(leafServer)}.*`],
  };
}

/** nats-server's 8-character hash of a server name (events.go getHash): its system inbox token. */
export function serverHash(serverName: string): string {
  const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  const sha = createHash("sha256").update(serverName).digest();
  return [...sha.subarray(0, 8)].map((b) => digits[b % 62]).join("");
}

/** Drops what a wider entry already covers (`$JS.<leaf>.API.INFO` under `$JS.<leaf>.API.>`). */
function compact(set: ReadonlySet<string>): string[] {
  return [...set].filter((x) => ![...set].some((y) => y !== x && subjectCovers(y, x)));
}
