/**
 * Service bindings → least-privilege NATS permissions. A service says what it does in this
 * stack's terms (streams it publishes to, durable consumers it pulls, buckets it reads or writes,
 * subjects it subscribes to or serves, where it connects); this derives the exact subjects its
 * user JWT allows, each with the binding it comes from. Pure: no I/O, no Pulumi.
 *
 * Subjects per binding (API = `$JS.API` when the resource is in the domain of the place the
 * service connects to — the server maps `$JS.<own domain>.API` onto it before checking — and
 * `$JS.<domain>.API` when it lives in one other domain the links reach):
 * - publishes STREAM    pub the stream's subjects; acks come back on the inbox.
 * - consumes CONSUMER   pub API.CONSUMER.INFO.<stream>.<c>, API.CONSUMER.MSG.NEXT.<stream>.<c>,
 *                       `$JS.ACK.<stream>.<c>.>` (ack subjects carry no domain).
 * - reads kv B          pub API.STREAM.INFO.KV_B, API.DIRECT.GET.KV_B.> and API.STREAM.MSG.GET.KV_B (get),
 *                       API.CONSUMER.CREATE.KV_B.>
 *                       and `$JS.FC.KV_B.>` (watch: an ordered consumer delivering to the inbox).
 * - writes kv B         pub API.STREAM.INFO.KV_B, `$KV.B.>` (put, delete, purge are publishes).
 * - reads objects B     pub API.STREAM.INFO.OBJ_B, API.DIRECT.GET.OBJ_B.>, API.STREAM.MSG.GET.OBJ_B, API.CONSUMER.CREATE.OBJ_B.>,
 *                       API.CONSUMER.MSG.NEXT.OBJ_B.*, API.CONSUMER.DELETE.OBJ_B.*, `$JS.FC.OBJ_B.>`.
 * - writes objects B    pub API.STREAM.INFO.OBJ_B, `$O.B.>`, API.STREAM.PURGE.OBJ_B (replacing an object).
 * - any bucket binding  pub API.INFO (nats.js `Kvm`/`Objm` open through jetstreamManager, which asks
 *                       it first; consumers and publishes need none — measured with nats.js and natscli).
 * - subscribes S        sub S.       serves S: sub S plus response permission (one reply).
 * - always              sub `<inboxPrefix>.>`: its own replies, never `_INBOX.>`.
 */
import type { JetStreamSpec } from "../jetstream/spec";
import type { At as Place } from "../jetstream/locations";
import { subjectCovers, subjectsOverlap } from "../subjects/subject";
import type { At } from "../config/fields";
import type { Grant, ServiceBindings, ServicePlace } from "./types";

/** The shared default inbox prefix of nats.js and natscli: every service would read every reply. */
export const SHARED_INBOX_PREFIX = "_INBOX";
/** A service's own inbox prefix: `_INBOX_person-service`. */
export const serviceInboxPrefix = (user: string): string => `${SHARED_INBOX_PREFIX}_${user}`;

/** Where a stream, bucket or consumer exists, for the place checks. */
type Resource = {
  /** What the user wrote, for messages: `stream PERSON_EVENTS`. */
  readonly what: string;
  readonly domains: ReadonlySet<string>;
  /** Declared at several leaves: a copy per leaf, never reached across the links. */
  readonly leafLocal: boolean;
};

export type DerivedPermissions = {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  /** Whether it answers requests (serves): response permission. */
  readonly responds: boolean;
  readonly grants: readonly Grant[];
  /** Consumer keys (`domain/stream/name`) it pulls: two users on one consumer is refused by the caller. */
  readonly consumers: readonly string[];
};

const leafLocalAt = (at: Place): boolean => at === "leaves" || (Array.isArray(at) && at.length > 1);

/**
 * Derives the permissions of one service. `path` is the user's config path
 * (`security.users[0]`); every problem is reported through `at` with its field path.
 */
export function deriveServicePermissions(args: {
  readonly user: string;
  readonly inboxPrefix: string;
  readonly places: readonly ServicePlace[];
  readonly bindings: ServiceBindings;
  readonly jetstream: JetStreamSpec;
  readonly path: string;
  readonly at: At;
}): DerivedPermissions {
  const { user, inboxPrefix, places, bindings: b, jetstream: js, path, at } = args;
  const grants: Grant[] = [];
  const grant = (op: Grant["op"], subject: string, why: string) => {
    if (!grants.some((g) => g.op === op && g.subject === subject)) grants.push({ op, subject, why });
  };
  const consumers: string[] = [];
  /** API prefixes of bucket bindings: nats.js `Kvm`/`Objm` open through `jetstreamManager()`, which asks `INFO` first. */
  const infoPrefixes = new Set<string>();

  /** The API prefixes through which `place` reaches `r`, or an issue. */
  const prefixesFor = (r: Resource, field: string, value: string): string[] => {
    const out: string[] = [];
    for (const place of places) {
      if (r.domains.has(place.domain)) {
        // A server maps its own domain's `$JS.<domain>.API.>` to `$JS.API.>` before it checks
        // permissions (measured on 2.15.2: the violation names `$JS.API…`), so one grant serves
        // clients with and without the domain, and another leaf's copy stays out of reach.
        out.push("$JS.API");
      } else if (r.domains.size === 1 && !r.leafLocal) {
        out.push(`$JS.${[...r.domains][0]}.API`);
      } else {
        at(
          field,
          `${r.what} ('${value}') does not exist at ${place.level === "hub" ? "the hub" : `leaf ${place.name}`} where '${user}' connects (at), and its copies at ${[...r.domains].join(", ")} are leaf-local, never reached across the links: ` +
            `change the user's \`at\` to where it lives, or declare it at ${place.level === "hub" ? "hub" : "leaves"}`,
        );
      }
    }
    return [...new Set(out)];
  };
  const api = (prefixes: readonly string[], rest: string, why: string) => {
    for (const p of prefixes) grant("pub", `${p}.${rest}`, why);
  };

  const streamByName = (name: string): (Resource & { subjects: readonly string[]; aggregate: boolean }) | undefined => {
    const plain = js.streams.filter((s) => s.config.name === name);
    const agg = js.aggregates.filter((a) => String(a.config.name) === name);
    if (!plain.length && !agg.length) return undefined;
    const subjects = plain[0]?.config.subjects?.length ? plain[0].config.subjects : plain[0] && !plain[0].config.sources?.length && !plain[0].config.mirror ? [name] : [];
    return {
      what: agg.length ? "aggregate stream" : "stream",
      domains: new Set([...plain, ...agg].map((x) => x.location.domain)),
      leafLocal: plain.some((s) => leafLocalAt(s.at)),
      subjects,
      aggregate: agg.length > 0,
    };
  };
  const bucket = (kind: "kv" | "objects", name: string): Resource | undefined => {
    const found = kind === "kv" ? js.kv.filter((k) => k.config.bucket === name) : js.objects.filter((o) => o.config.bucket === name);
    if (!found.length) return undefined;
    return { what: kind === "kv" ? "kv bucket" : "object bucket", domains: new Set(found.map((x) => x.location.domain)), leafLocal: found.some((x) => leafLocalAt(x.at)) };
  };
  const declared = (list: readonly string[]) => list.join(", ") || "none";

  b.publishes.forEach((name, i) => {
    const field = `${path}.publishes[${i}]`;
    const s = streamByName(name);
    if (!s) {
      at(field, `unknown stream '${name}': declared streams are ${declared(js.streams.map((x) => x.config.name).filter((x, n, a) => a.indexOf(x) === n))}; declare it under jetstream.streams or fix the name`);
      return;
    }
    if (s.aggregate || s.subjects.length === 0) {
      const leaf = js.aggregates.find((a) => String(a.config.name) === name)?.leafStream.name;
      at(field, `${s.what} '${name}' has no subjects of its own (it only sources${leaf ? ` ${leaf}` : ""}): publish to ${leaf ? `'${leaf}'` : "the stream it sources"} instead`);
      return;
    }
    // Publishing needs no API; it needs the stream where the publication lands.
    for (const place of places) {
      if (!s.domains.has(place.domain) && s.leafLocal) {
        at(
          field,
          `stream '${name}' does not exist at ${place.level === "hub" ? "the hub" : `leaf ${place.name}`} where '${user}' connects, and the leaves deny importing its subjects (leaf stores stay local): events published there would never be stored. ` +
            `Change the user's \`at\` to ${[...s.domains].join(", ")}, or publish to a stream declared there`,
        );
      }
    }
    for (const subject of s.subjects) grant("pub", subject, `publishes ${name}`);
  });

  b.consumes.forEach((ref, i) => {
    const field = `${path}.consumes[${i}]`;
    const [streamPart, namePart] = ref.includes("/") ? ref.split("/", 2) : [undefined, ref];
    const matches = js.consumers.filter((c) => (c.config.durable_name ?? c.config.name) === namePart && (streamPart === undefined || c.stream === streamPart));
    const streams = [...new Set(matches.map((c) => c.stream))];
    if (!matches.length) {
      at(field, `unknown consumer '${ref}': declared consumers are ${declared(js.consumers.map((c) => `${c.stream}/${c.config.durable_name ?? c.config.name}`).filter((x, n, a) => a.indexOf(x) === n))}; declare it under jetstream.consumers or fix the name`);
      return;
    }
    if (streams.length > 1) {
      at(field, `consumer name '${ref}' exists on streams ${streams.join(", ")}: write it as '<stream>/${namePart}', e.g. '${streams[0]}/${namePart}'`);
      return;
    }
    const stream = streams[0];
    const r: Resource = { what: "consumer", domains: new Set(matches.map((c) => c.location.domain)), leafLocal: matches.some((c) => leafLocalAt(c.at)) };
    const prefixes = prefixesFor(r, field, ref);
    const why = `consumes ${stream}/${namePart}`;
    api(prefixes, `CONSUMER.INFO.${stream}.${namePart}`, why);
    api(prefixes, `CONSUMER.MSG.NEXT.${stream}.${namePart}`, why);
    grant("pub", `$JS.ACK.${stream}.${namePart}.>`, why);
    for (const c of matches) consumers.push(`${c.location.domain}/${stream}/${namePart}`);
  });

  for (const mode of ["reads", "writes"] as const) {
    for (const kind of ["kv", "objects"] as const) {
      b[mode][kind].forEach((name, i) => {
        const field = `${path}.${mode}.${kind}[${i}]`;
        const r = bucket(kind, name);
        if (!r) {
          const names = (kind === "kv" ? js.kv : js.objects).map((x) => x.config.bucket).filter((x, n, a) => a.indexOf(x) === n);
          at(field, `unknown ${kind === "kv" ? "kv" : "object"} bucket '${name}': declared are ${declared(names)}; declare it under jetstream.${kind} or fix the name`);
          return;
        }
        const prefixes = prefixesFor(r, field, name);
        const why = `${mode} ${kind === "kv" ? "kv" : "objects"} ${name}`;
        const stream = kind === "kv" ? `KV_${name}` : `OBJ_${name}`;
        api(prefixes, `STREAM.INFO.${stream}`, why);
        for (const p of prefixes) infoPrefixes.add(p);
        if (mode === "reads") {
          // Direct get where the client uses it (natscli, nats.go); nats.js `Kvm.open` binds without
          // asking the stream and gets through STREAM.MSG.GET. Both read the same bucket only.
          api(prefixes, `DIRECT.GET.${stream}.>`, why);
          api(prefixes, `STREAM.MSG.GET.${stream}`, why);
          api(prefixes, `CONSUMER.CREATE.${stream}.>`, why);
          if (kind === "objects") {
            api(prefixes, `CONSUMER.MSG.NEXT.${stream}.*`, why);
            api(prefixes, `CONSUMER.DELETE.${stream}.*`, why);
          }
          grant("pub", `$JS.FC.${stream}.>`, why);
        } else if (kind === "kv") {
          grant("pub", `$KV.${name}.>`, why);
        } else {
          grant("pub", `$O.${name}.>`, why);
          api(prefixes, `STREAM.PURGE.${stream}`, why);
        }
      });
    }
  }
  for (const p of infoPrefixes) grant("pub", `${p}.INFO`, "bucket clients check the API first");

  for (const s of b.subscribes) grant("sub", s, "subscribes");
  for (const s of b.serves) grant("sub", s, "serves (answers requests)");
  grant("sub", `${inboxPrefix}.>`, "its own inbox: acks, API replies, request replies");

  return {
    publish: grants.filter((g) => g.op === "pub").map((g) => g.subject),
    subscribe: grants.filter((g) => g.op === "sub").map((g) => g.subject),
    responds: b.serves.length > 0,
    grants,
    consumers,
  };
}

/** Why an inbox prefix is unusable, or "": a literal subject, not the shared `_INBOX`. */
export function inboxPrefixReason(prefix: string): string {
  if (prefix.length === 0 || /[\s*>]/.test(prefix) || prefix.split(".").some((t) => t === "")) {
    return `inbox prefix '${prefix}' must be a literal subject (tokens of letters, digits, '-', '_'; no wildcards)`;
  }
  if (prefix === SHARED_INBOX_PREFIX || prefix.startsWith(`${SHARED_INBOX_PREFIX}.`)) {
    return `inbox prefix '${prefix}' is under the shared '_INBOX' every client uses by default: any service allowed it could read every reply; use '_INBOX_<user>'`;
  }
  return "";
}

/** Whether two users' inboxes (`<prefix>.>`) can share a subject. */
export function inboxesCollide(a: string, b: string): boolean {
  return subjectsOverlap(`${a}.>`, `${b}.>`);
}

/**
 * What the leaf-link user of one leaf may carry, from the leaf's point of view (nats-server reads
 * a leaf-link JWT's `sub` as what the leaf imports from the hub and `pub` as what it exports,
 * sends both to the leaf for local enforcement, and reverses them inside the hub):
 *
 * imports (sub.allow)
 * - `$JS.<leaf>.API.>` when an aggregate sources a stream of this leaf: the hub's sourcing
 *   requests; plus the exact grants other places' services hold on this leaf's stores (API
 *   requests, writes, acks, flow control) — and those services' inboxes go out, for the replies.
 * - `$JS.FC.<stream>.>` per sourced stream: flow-control replies to the sourcing consumer.
 * Only bindings cross a link: a service's plain publish/subscribe lists work where it connects.
 *
 * - for each service at this leaf: what it subscribes to (messages from elsewhere), and its
 *   inbox when it sends the hub anything that is answered. Not what it serves: requests are
 *   answered where the service connects (replies to the hub would need every requester's inbox
 *   on the link, and each new service would re-issue every leaf's link creds).
 * exports (pub.allow)
 * - `$JS.S.>` (sourced messages) and `$JSC.R.>` (API replies) when an aggregate sources it.
 * - for each service at this leaf: what it publishes to places other than this leaf (hub
 *   streams, remote API prefixes, remote acks and buckets), never its leaf-local stream subjects
 *   nor `$JS.API` (the leaf's own JetStream).
 */
export function leafLinkPermissions(args: {
  readonly leafServer: string;
  readonly domain: string;
  readonly users: readonly {
    /** The derived grants: only what bindings say crosses a link (plain lists stay local). */
    readonly grants?: readonly Grant[];
    readonly inboxPrefix?: string;
    readonly places?: readonly ServicePlace[];
    readonly bindings?: ServiceBindings;
    readonly responses?: unknown;
  }[];
  readonly jetstream: JetStreamSpec;
}): { readonly publish: string[]; readonly subscribe: string[] } {
  const { leafServer, domain, users, jetstream: js } = args;
  const pubGrants = (u: (typeof users)[number]) => (u.grants ?? []).filter((g) => g.op === "pub").map((g) => g.subject);
  // Subjects of leaf-local stores (what the leaves deny importing): never exported either.
  const leafLocal = [
    ...js.streams.filter((s) => s.location.level === "leaf" && leafLocalAt(s.at)).flatMap((s) => s.config.subjects ?? []),
    ...js.kv.filter((k) => k.location.level === "leaf" && leafLocalAt(k.at)).map((k) => `$KV.${k.config.bucket}.>`),
    ...js.objects.filter((o) => o.location.level === "leaf" && leafLocalAt(o.at)).map((o) => `$O.${o.config.bucket}.>`),
  ];
  const pub = new Set<string>();
  const sub = new Set<string>();
  const sourced = js.aggregates.filter((a) => a.config.sources?.some((s) => s.external?.api === `$JS.${domain}.API`));
  if (sourced.length) {
    sub.add(`$JS.${domain}.API.>`);
    for (const a of sourced) sub.add(`$JS.FC.${a.leafStream.name}.>`);
    pub.add("$JS.S.>");
    pub.add("$JSC.R.>");
  }
  const here = users.filter((u) => u.places?.some((p) => p.level === "leaf" && p.name === leafServer));
  const elsewhere = users.filter((u) => u.places && !u.places.some((p) => p.level === "leaf" && p.name === leafServer));
  // Streams in this leaf's domain (KV_/OBJ_ included): their acks and flow control stay local.
  const streamsHere = new Set([
    ...js.streams.filter((s) => s.location.domain === domain).map((s) => s.config.name),
    ...js.kv.filter((k) => k.location.domain === domain).map((k) => `KV_${k.config.bucket}`),
    ...js.objects.filter((o) => o.location.domain === domain).map((o) => `OBJ_${o.config.bucket}`),
  ]);
  const local = (s: string) => {
    if (s.startsWith("$JS.API.")) return true;
    const t = s.split(".");
    if (t[0] === "$JS" && (t[1] === "FC" || t[1] === "ACK") && streamsHere.has(t[2])) return true;
    // A store kept at this leaf alone (CLUSTER_OBJECTS at cimstor) is written where it is.
    if (!s.startsWith("$JS.") && storeSubjectsHere.some((x) => subjectCovers(x, s))) return true;
    return leafLocal.some((l) => subjectsOverlap(l, s));
  };
  // Stores in this domain that other places' services reach: their writes and API requests come
  // in, their acks and replies go back out to those services' inboxes.
  // (Only the ones at this leaf alone: a leaf-local store's copies are each reached locally.)
  const sole = <T extends { readonly at: Place; readonly location: { readonly domain: string } }>(x: T) => x.location.domain === domain && !leafLocalAt(x.at);
  const soleStreams = new Set([
    ...js.streams.filter(sole).map((s) => s.config.name),
    ...js.kv.filter(sole).map((k) => `KV_${k.config.bucket}`),
    ...js.objects.filter(sole).map((o) => `OBJ_${o.config.bucket}`),
  ]);
  const storeSubjectsHere = [
    ...js.streams.filter(sole).flatMap((s) => s.config.subjects ?? []),
    ...js.kv.filter(sole).map((k) => `$KV.${k.config.bucket}.>`),
    ...js.objects.filter(sole).map((o) => `$O.${o.config.bucket}.>`),
  ];
  const targetsHere = (s: string) => {
    const t = s.split(".");
    if (s.startsWith(`$JS.${domain}.API.`)) return true;
    if (t[0] === "$JS" && (t[1] === "FC" || t[1] === "ACK") && soleStreams.has(t[2])) return true;
    return !s.startsWith("$JS.") && storeSubjectsHere.some((x) => subjectsOverlap(x, s));
  };
  for (const u of elsewhere) {
    const reaching = pubGrants(u).filter(targetsHere);
    for (const s of reaching) sub.add(s);
    if (reaching.length && u.inboxPrefix) pub.add(`${u.inboxPrefix}.>`);
  }
  for (const u of here) {
    const exported = pubGrants(u).filter((s) => !local(s));
    for (const s of exported) pub.add(s);
    // Its inbox only when it sends the hub something that can be answered (acks, API replies).
    if (u.inboxPrefix && exported.length) sub.add(`${u.inboxPrefix}.>`);
    // What it subscribes to may come from the hub (one way, no reply needed). What it serves is
    // answered where it connects: carrying requests in would need every requester's inbox out.
    for (const s of u.bindings?.subscribes ?? []) sub.add(s);
  }
  // Drop what a wider entry already covers (`$JS.<leaf>.API.INFO` under `$JS.<leaf>.API.>`).
  const compact = (set: Set<string>) => [...set].filter((x) => ![...set].some((y) => y !== x && subjectCovers(y, x)));
  return { publish: compact(pub), subscribe: compact(sub) };
}
