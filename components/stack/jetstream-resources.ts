/**
 * The declared JetStream state as resources: one per stream, aggregate, bucket, entry and
 * consumer in each JetStream domain it lives in. Both substrates use this; they differ only in
 * what the resources wait for (local processes, or the NixOS deployments).
 */
import * as pulumi from "@pulumi/pulumi";
import { AggregateStream } from "../jetstream/aggregate-stream";
import { Consumer } from "../jetstream/consumer";
import { KvBucket } from "../jetstream/kv";
import { KvEntry } from "../jetstream/kv-entry";
import { locationTarget, resolveAt, type Location } from "../jetstream/locations";
import { ObjectStore } from "../jetstream/object-store";
import { RemovalGuard, type StoreRef } from "../jetstream/removal-guard";
import { TeardownGate } from "../jetstream/teardown-gate";
import { valueHash } from "../jetstream/user-data";
import type { JetStreamSpec } from "../jetstream/spec";
import { Stream } from "../jetstream/stream";
import type { ConnectionTarget } from "../jetstream/types";
import type { JetStreamNames } from "../deploy/outputs";
import type { Topology } from "../topology/types";

export type JetStreamResourcesArgs = {
  readonly topology: Topology;
  readonly spec: JetStreamSpec;
  /** Credentials the providers connect with (the jetstream-admin user's creds). Secret. */
  readonly creds: pulumi.Output<string>;
  /**
   * Server name → the resource that makes it ready (a local process, or its host's NixOS switch).
   * Each JetStream resource waits for exactly the servers of its own domain — no server of
   * another domain, no other store — so a change at one leaf never orders behind another's.
   */
  readonly servers: Readonly<Record<string, pulumi.Resource>>;
  /** Let delete/replace drop streams and buckets that hold data (`cim-nats:allowDataLoss`). Default false. */
  readonly allowDataLoss?: boolean;
  /**
   * Server name → the identity of its JetStream store (dev servers' `storeId`). Each resource
   * carries its location's ids in its target, so a wiped store updates (re-creates) exactly the
   * resources that lived in it — at preview too. Default: none (prod: `pulumi refresh`).
   */
  readonly storeIds?: Readonly<Record<string, pulumi.Output<string>>>;
  /** The stack's CA certificate (PEM): every provider connection verifies the servers with it. Default: no TLS. */
  readonly caCertPem?: pulumi.Output<string>;
  /**
   * What an aggregate also waits for: the push of the data account's JWT, which waits for the
   * leaves' links it enables. Created before its sources' links are up, an aggregate idles on
   * nats-server's source retry backoff. Default none.
   */
  readonly linksUp?: readonly pulumi.Resource[];
};

/** Resource name suffix for a location: the leaf domain, or `hub`. */
const where = (l: Location) => l.domain;

export function declareJetStream(parent: pulumi.Resource, args: JetStreamResourcesArgs) {
  const { topology, spec } = args;
  const storeId = (l: Location): pulumi.Output<string | undefined> =>
    args.storeIds ? pulumi.all(l.serverNames.map((s) => args.storeIds![s] ?? "")).apply((ids) => ids.join(",")) : pulumi.output(undefined);
  const target = (l: Location): pulumi.Output<ConnectionTarget> =>
    pulumi.secret(
      pulumi
        .all([args.creds, storeId(l), args.caCertPem])
        .apply(([creds, id, ca]) => ({ ...locationTarget(l, topology, { creds }, ca ? { ca } : undefined), ...(id !== undefined ? { storeId: id } : {}) })),
    );
  const serversOf = (l: Location): pulumi.Resource[] => [...new Set(l.serverNames.map((s) => args.servers[s]).filter((r) => r !== undefined))];
  const opts = (l: Location) => ({ parent, dependsOn: serversOf(l) });
  const allowDataLoss = args.allowDataLoss ?? false;
  // `jetstream.adopt`: each resource takes over an existing one of its name on create (in place).
  const adopt = spec.adopt ? { adopt: true } : {};

  const streams = new Map<string, Stream | AggregateStream>();
  for (const s of spec.streams) {
    const r = new Stream(`stream-${s.config.name}-${where(s.location)}`, { ...s.config, target: target(s.location), allowDataLoss, ...adopt }, opts(s.location));
    streams.set(`${s.location.domain}/${s.config.name}`, r);
  }
  for (const a of spec.aggregates) {
    // Its own sources only: the leaf streams it sources, never another aggregate.
    const sources = spec.streams.filter((s) => s.config.name === a.leafStream.name).map((s) => streams.get(`${s.location.domain}/${s.config.name}`)!);
    // The spec derived the aggregate's sources from the topology once: hand them over as they are.
    const { sources: derived, ...config } = a.config;
    const r = new AggregateStream(
      `aggregate-${a.config.name}`,
      { target: target(a.location), leafStream: a.leafStream, topology, config, sources: derived, allowDataLoss, ...adopt },
      { parent, dependsOn: [...serversOf(a.location), ...sources, ...(args.linksUp ?? [])] },
    );
    streams.set(`${a.location.domain}/${a.config.name}`, r);
  }
  const kv = spec.kv.map((k) => {
    const bucket = new KvBucket(`kv-${k.config.bucket}-${where(k.location)}`, { ...k.config, target: target(k.location), allowDataLoss, ...adopt }, opts(k.location));
    const entries = Object.entries(k.entries).map(
      ([key, value]) =>
        new KvEntry(`kv-${k.config.bucket}-${where(k.location)}-${key}`, { target: target(k.location), bucket: k.config.bucket, key, value }, { parent, dependsOn: [bucket] }),
    );
    return { bucket, entries };
  });
  const objects = spec.objects.map(
    (o) => new ObjectStore(`objects-${o.config.bucket}-${where(o.location)}`, { ...o.config, target: target(o.location), allowDataLoss, ...adopt }, opts(o.location)),
  );
  const consumers = spec.consumers.map((c) => {
    const stream = streams.get(`${c.location.domain}/${c.stream}`);
    return new Consumer(
      `consumer-${c.stream}-${c.config.name}-${where(c.location)}`,
      { ...c.config, stream: c.stream, target: target(c.location), ...adopt },
      { parent, dependsOn: stream ? [stream] : serversOf(c.location) },
    );
  });
  return { streams, kv, objects, consumers };
}

/** Every declared store in every domain it lives in, as the removal guard and the teardown gate track them (pure). */
export function declaredStores(spec: JetStreamSpec): StoreRef[] {
  const at = (l: Location) => ({ domain: l.domain, level: l.level, servers: [...l.serverNames] });
  return [
    ...spec.streams.map((s) => ({ kind: "stream" as const, name: s.config.name, ...at(s.location), resource: `stream-${s.config.name}-${where(s.location)}`, config: { ...s.config } })),
    ...spec.aggregates.map((a) => ({ kind: "stream" as const, name: a.config.name, ...at(a.location), resource: `aggregate-${a.config.name}-stream`, config: { ...a.config } })),
    ...spec.kv.map((k) => ({
      kind: "kv" as const,
      name: k.config.bucket,
      ...at(k.location),
      resource: `kv-${k.config.bucket}-${where(k.location)}`,
      config: { ...k.config },
      entries: Object.fromEntries(Object.entries(k.entries).map(([key, value]) => [key, valueHash(value)])),
    })),
    ...spec.objects.map((o) => ({ kind: "objects" as const, name: o.config.bucket, ...at(o.location), resource: `objects-${o.config.bucket}-${where(o.location)}`, config: { ...o.config } })),
  ];
}

/** Every JetStream domain of the topology → how the guard and the gate reach it (secret). */
function domainTargets(topology: Topology, creds: pulumi.Output<string>, caCertPem: pulumi.Output<string> | undefined) {
  const locations: Location[] = [...resolveAt("leaves", topology), ...(topology.hub.members.length > 0 ? resolveAt("hub", topology) : [])];
  return pulumi
    .all([creds, caCertPem])
    .apply(([c, ca]) => Object.fromEntries(locations.map((l) => [l.domain, locationTarget(l, topology, { creds: c }, ca ? { ca } : undefined)])));
}

type GuardArgs = {
  readonly topology: Topology;
  readonly spec: JetStreamSpec;
  readonly creds: pulumi.Output<string>;
  readonly allowDataLoss: boolean;
  /** The stack's CA certificate: the connections verify the servers with it. Default: no TLS. */
  readonly caCertPem?: pulumi.Output<string>;
};

/**
 * The JetStream removal guard (removal-guard.ts): the servers depend on it, so a removal or
 * replacement that would lose data fails before the run's first step, and removed leaf stores
 * are deleted before any server drops their subjects from its deny_imports.
 */
export function declareRemovalGuard(parent: pulumi.Resource, args: GuardArgs): RemovalGuard {
  const targets = domainTargets(args.topology, args.creds, args.caCertPem);
  return new RemovalGuard("jetstream-removal-guard", { stores: declaredStores(args.spec), targets, allowDataLoss: args.allowDataLoss }, { parent });
}

/**
 * The teardown gate (teardown-gate.ts): depends on everything under `root`, so a destroy deletes
 * it first and refuses whole, or lets every store go (with its host's data, where the host is down).
 */
export function declareTeardownGate(root: pulumi.Resource, args: GuardArgs): TeardownGate {
  const targets = domainTargets(args.topology, args.creds, args.caCertPem);
  return new TeardownGate("jetstream-teardown-gate", { stores: declaredStores(args.spec), targets, allowDataLoss: args.allowDataLoss }, { dependsOn: [root] });
}

/** Names and domains of what the spec declares: the `jetstream` stack output. */
export function jetstreamNames(spec: JetStreamSpec): JetStreamNames {
  const group = (items: readonly { name: string; domain: string }[]) => {
    const m = new Map<string, string[]>();
    for (const i of items) m.set(i.name, [...(m.get(i.name) ?? []), i.domain]);
    return [...m].map(([name, domains]) => ({ name, domains }));
  };
  return {
    streams: group([
      ...spec.streams.map((s) => ({ name: s.config.name, domain: s.location.domain })),
      ...spec.aggregates.map((a) => ({ name: a.config.name, domain: a.location.domain })),
    ]),
    kv: group(spec.kv.map((k) => ({ name: k.config.bucket, domain: k.location.domain }))),
    objects: group(spec.objects.map((o) => ({ name: o.config.bucket, domain: o.location.domain }))),
  };
}
