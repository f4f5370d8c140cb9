/**
 * Service bindings → least-privilege NATS permissions and the imports that carry them. A service
 * says what it does in this stack's terms (streams it publishes to, durable consumers it pulls,
 * buckets it reads or writes, subjects it subscribes to or serves, where it connects); this
 * derives the exact subjects its user JWT allows, each with the binding it comes from, and what
 * its account imports from the data account (account-links.ts turns those into JWT imports and
 * exports). Pure: no I/O, no Pulumi.
 *
 * A service lives in an account of its own with JetStream off; it reaches the data account only
 * through service imports, one per subject below, each with the same subject on both sides. A
 * resource in the domain of a place the service connects to is reached as `$JS.API.…` and
 * `$JS.<domain>.API.…` (the data account's JetStream maps its own domain's form, also for
 * requests arriving through an import — measured on 2.15.2); one in one other domain as
 * `$JS.<domain>.API.…`, which the data account carries over its leafnode links.
 * - publishes STREAM    the stream's subjects (acked writes; the ack comes back through the import).
 * - consumes CONSUMER   API.CONSUMER.INFO.<stream>.<c>, API.CONSUMER.MSG.NEXT.<stream>.<c> (a
 *                       stream of responses), `$JS.ACK.<stream>.<c>.>` (ack subjects carry no domain).
 * - reads kv B          API.STREAM.INFO.KV_B, API.DIRECT.GET.KV_B.> and API.STREAM.MSG.GET.KV_B: gets
 *                       only. No consumer creation: nats.js names every consumer it creates, so a
 *                       grant to create one could create a durable one that outlives the reader;
 *                       to follow a bucket, declare a consumer on KV_B and bind it with `consumes`.
 * - writes kv B         API.STREAM.INFO.KV_B, `$KV.B.>` (put, delete, purge are publishes).
 * - reads objects B     API.STREAM.INFO.OBJ_B, API.DIRECT.GET.OBJ_B.>, API.STREAM.MSG.GET.OBJ_B.
 * - watches kv|objects B  what nats.js kv watch and object get do: API.STREAM.INFO, API.CONSUMER.CREATE
 *                       .<stream>.> and API.CONSUMER.DELETE.<stream>.* (its ordered consumers),
 *                       `$JS.FC.<stream>.>` (flow control), and the consumers' deliveries into its
 *                       inbox (the data account's `<inbox>.>`, a stream import). The server cannot
 *                       tell an ordered consumer from a durable one by subject: a watcher can
 *                       create (and delete) consumers on that bucket's stream; `reads` cannot.
 * - writes objects B    API.STREAM.INFO.OBJ_B, `$O.B.>`, API.STREAM.PURGE.OBJ_B (replacing an object).
 * - any API binding     API.INFO: nats.js asks it first, and importing it is what keeps nats-server
 *                       from adding its "JetStream not enabled" responder for the account's API.
 * - subscribes S        sub S (the data account's messages on S, through a stream import).
 * - serves S            sub S plus response permission (the service's account exports S, the data
 *                       account imports it: requests are answered where the service connects).
 * - always              sub `<inboxPrefix>.>`: its own replies, never `_INBOX.>`.
 */
import { streamSubjects, type JetStreamSpec } from "../jetstream/spec";
import { isLeafLocal } from "../jetstream/locations";
import type { At } from "../config/fields";
import type { DataImport, Grant, InboxDeliveries, ResponseType, ServiceBindings, ServicePlace } from "./types";

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
  /** What its account imports from the data account, one entry per subject. */
  readonly imports: readonly DataImport[];
  /** With `watches`: its consumers' deliveries come to its inbox (and where they cross links). */
  readonly inboxDeliveries?: InboxDeliveries;
};

/** How one place reaches a resource: the API prefixes it uses, and whether that crosses a link. */
type Route = { readonly prefixes: readonly string[]; readonly crossesTo?: string };

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
  const imports: DataImport[] = [];
  /** Grants and imports `subject`, sent from `place` (crossing to `crossesTo` when set). */
  const send = (subject: string, why: string, place: ServicePlace, crossesTo: string | undefined, responseType: ResponseType = "Singleton") => {
    grant("pub", subject, why);
    const i = imports.findIndex((x) => x.subject === subject);
    const prev = imports[i];
    const crossesFrom = [...(prev?.crossesFrom ?? []), ...(crossesTo !== undefined ? [place.name] : [])];
    const next: DataImport = {
      subject,
      responseType: prev?.responseType === "Stream" ? "Stream" : responseType,
      why: prev?.why ?? why,
      crossesFrom: [...new Set(crossesFrom)],
      ...((crossesTo ?? prev?.targetDomain) !== undefined ? { targetDomain: crossesTo ?? prev?.targetDomain } : {}),
    };
    if (i >= 0) imports[i] = next;
    else imports.push(next);
  };
  const consumers: string[] = [];
  const deliveries = { crossesFrom: new Set<string>(), fromDomains: new Set<string>(), any: false };
  /** Places that reach any JetStream API: they get API.INFO too. */
  const apiRoutes = new Map<string, { place: ServicePlace; route: Route }[]>();

  /** How each place reaches `r`, or an issue for a place that cannot. */
  const routesFor = (r: Resource, field: string, value: string): { place: ServicePlace; route: Route }[] => {
    const out: { place: ServicePlace; route: Route }[] = [];
    for (const place of places) {
      if (r.domains.has(place.domain)) {
        out.push({ place, route: { prefixes: ["$JS.API", `$JS.${place.domain}.API`] } });
      } else if (r.domains.size === 1 && !r.leafLocal) {
        const domain = [...r.domains][0];
        out.push({ place, route: { prefixes: [`$JS.${domain}.API`], crossesTo: domain } });
      } else {
        at(
          field,
          `${r.what} ('${value}') does not exist at ${place.level === "hub" ? "the hub" : `leaf ${place.name}`} where '${user}' connects (at), and its copies at ${[...r.domains].join(", ")} are leaf-local, never reached across the links: ` +
            `change the user's \`at\` to where it lives, or declare it at ${place.level === "hub" ? "hub" : "leaves"}`,
        );
      }
    }
    return out;
  };
  const api = (routes: readonly { place: ServicePlace; route: Route }[], rest: string, why: string, responseType: ResponseType = "Singleton") => {
    for (const { place, route } of routes) {
      for (const p of route.prefixes) send(`${p}.${rest}`, why, place, route.crossesTo, responseType);
      const list = apiRoutes.get(place.name) ?? [];
      if (!list.some((x) => x.route.prefixes.join() === route.prefixes.join())) list.push({ place, route });
      apiRoutes.set(place.name, list);
    }
  };
  /** A subject that is the same wherever it is sent from (stream subjects, acks, bucket writes). */
  const plain = (routes: readonly { place: ServicePlace; route: Route }[], subject: string, why: string) => {
    for (const { place, route } of routes) send(subject, why, place, route.crossesTo);
  };

  const streamByName = (name: string): (Resource & { subjects: readonly string[]; aggregate: boolean }) | undefined => {
    const stored = js.streams.filter((s) => s.config.name === name);
    const agg = js.aggregates.filter((a) => String(a.config.name) === name);
    if (!stored.length && !agg.length) return undefined;
    const subjects = stored[0] ? streamSubjects(stored[0].config) : [];
    return {
      what: agg.length ? "aggregate stream" : "stream",
      domains: new Set([...stored, ...agg].map((x) => x.location.domain)),
      leafLocal: stored.some((s) => isLeafLocal(s.at)),
      subjects,
      aggregate: agg.length > 0,
    };
  };
  const bucket = (kind: "kv" | "objects", name: string): Resource | undefined => {
    const found = kind === "kv" ? js.kv.filter((k) => k.config.bucket === name) : js.objects.filter((o) => o.config.bucket === name);
    if (!found.length) return undefined;
    return { what: kind === "kv" ? "kv bucket" : "object bucket", domains: new Set(found.map((x) => x.location.domain)), leafLocal: found.some((x) => isLeafLocal(x.at)) };
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
    const routes: { place: ServicePlace; route: Route }[] = [];
    for (const place of places) {
      if (s.domains.has(place.domain)) {
        routes.push({ place, route: { prefixes: [] } });
      } else if (s.leafLocal) {
        at(
          field,
          `stream '${name}' does not exist at ${place.level === "hub" ? "the hub" : `leaf ${place.name}`} where '${user}' connects, and the leaves deny importing its subjects (leaf stores stay local): events published there would never be stored. ` +
            `Change the user's \`at\` to ${[...s.domains].join(", ")}, or publish to a stream declared there`,
        );
      } else {
        routes.push({ place, route: { prefixes: [], crossesTo: [...s.domains][0] } });
      }
    }
    for (const subject of s.subjects) plain(routes, subject, `publishes ${name}`);
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
    const r: Resource = { what: "consumer", domains: new Set(matches.map((c) => c.location.domain)), leafLocal: matches.some((c) => isLeafLocal(c.at)) };
    const routes = routesFor(r, field, ref);
    const why = `consumes ${stream}/${namePart}`;
    api(routes, `CONSUMER.INFO.${stream}.${namePart}`, why);
    // A pull request is answered by every message it asks for: a stream of responses.
    api(routes, `CONSUMER.MSG.NEXT.${stream}.${namePart}`, why, "Stream");
    plain(routes, `$JS.ACK.${stream}.${namePart}.>`, why);
    for (const c of matches) consumers.push(`${c.location.domain}/${stream}/${namePart}`);
  });

  for (const mode of ["reads", "writes", "watches"] as const) {
    for (const kind of ["kv", "objects"] as const) {
      b[mode][kind].forEach((name, i) => {
        const field = `${path}.${mode}.${kind}[${i}]`;
        const r = bucket(kind, name);
        if (!r) {
          const names = (kind === "kv" ? js.kv : js.objects).map((x) => x.config.bucket).filter((x, n, a) => a.indexOf(x) === n);
          at(field, `unknown ${kind === "kv" ? "kv" : "object"} bucket '${name}': declared are ${declared(names)}; declare it under jetstream.${kind} or fix the name`);
          return;
        }
        const routes = routesFor(r, field, name);
        const why = `${mode} ${kind === "kv" ? "kv" : "objects"} ${name}`;
        const stream = kind === "kv" ? `KV_${name}` : `OBJ_${name}`;
        api(routes, `STREAM.INFO.${stream}`, why);
        if (mode === "reads") {
          // Direct get where the client uses it (natscli, nats.go); nats.js `Kvm.open` binds without
          // asking the stream and gets through STREAM.MSG.GET. Both read the same bucket only.
          api(routes, `DIRECT.GET.${stream}.>`, why, "Stream");
          api(routes, `STREAM.MSG.GET.${stream}`, why);
        } else if (mode === "watches") {
          // nats.js follows a bucket with an ordered push consumer it names and deletes itself.
          api(routes, `CONSUMER.CREATE.${stream}.>`, why);
          api(routes, `CONSUMER.DELETE.${stream}.*`, why);
          plain(routes, `$JS.FC.${stream}.>`, why);
          deliveries.any = true;
          for (const { place, route } of routes) {
            if (route.crossesTo !== undefined) {
              deliveries.crossesFrom.add(place.name);
              deliveries.fromDomains.add(route.crossesTo);
            }
          }
        } else if (kind === "kv") {
          plain(routes, `$KV.${name}.>`, why);
        } else {
          plain(routes, `$O.${name}.>`, why);
          api(routes, `STREAM.PURGE.${stream}`, why);
        }
      });
    }
  }
  api([...apiRoutes.values()].flat(), "INFO", "JetStream clients ask the API first (and its import keeps nats-server's own 'not enabled' responder out of the account)");

  for (const s of b.subscribes) grant("sub", s, "subscribes");
  for (const s of b.serves) grant("sub", s, "serves (answers requests)");
  grant("sub", `${inboxPrefix}.>`, "its own inbox: acks, API replies, request replies");

  return {
    publish: grants.filter((g) => g.op === "pub").map((g) => g.subject),
    subscribe: grants.filter((g) => g.op === "sub").map((g) => g.subject),
    responds: b.serves.length > 0,
    grants,
    consumers,
    imports,
    ...(deliveries.any ? { inboxDeliveries: { crossesFrom: [...deliveries.crossesFrom], fromDomains: [...deliveries.fromDomains] } } : {}),
  };
}
