/**
 * The declarative schema of every `cim-nats:*` stack config section: fields, types, defaults and
 * one line of documentation each. From it come the validation of topology, proxmox, tls and
 * security (validate.ts checkSection: unknown keys with a near match, types, enums, ranges, the
 * size and duration grammars, each field's message from atoms.ts), docs/config.md
 * (scripts/gen-config-docs.ts) and the editor JSON Schema schema/pulumi-stack.schema.json
 * (test/config/schema.test.ts keeps both current). jetstream and cidService are still checked by
 * their hand parsers against the field lists here (the JetStream wire checks also serve the
 * providers).
 *
 * Rules across fields and sections (replicas vs hub members, bindings naming declared streams,
 * vmids unique, capacity) stay in the section parsers, which report them with the same field
 * paths. Pure: zod and the grammars the parsers share.
 */
import { z } from "zod";
import { CONSUMER_KEYS } from "../jetstream/consumer-config";
import { KV_KEYS } from "../jetstream/kv-config";
import { OBJECT_STORE_KEYS } from "../jetstream/object-store-config";
import { STREAM_KEYS } from "../jetstream/stream-config";
import { DEFAULT_BUCKET, DEFAULT_SUBJECT_PREFIX } from "../cid/cid";
import { DURATION_PATTERN, parseDurationMs, parseDurationNanos } from "./units";
import { IPV4, because, duration as durationOf, flag, intIn, ipv4, matching, record, size as sizeOf, text } from "./atoms";
import { subjectReason, tokenReason } from "../subjects/subject";
import { inboxPrefixReason } from "../security/bindings";
import { HUB_SYNC_DEFAULT, LEAF_SYNC_DEFAULT } from "./durability";
import { DEFAULT_NIX_GC, NIX_GC_AGE_PATTERN, NIX_SHA256_PATTERN } from "../deploy/nixos-system";
import { OPENSSH_PUBLIC_KEY } from "../proxmox/container-host-key";
import { parseCidr } from "../proxmox/ipv4";
import { CHECKSUM_ALGORITHMS } from "../proxmox/config";

/** `default`: the value when unset; `derived`: when the default depends on other fields, said in words. */
type Meta = { readonly default?: unknown; readonly derived?: string };

/** An optional field with its documentation and default (docs and editors show both). */
function opt<T extends z.ZodType>(schema: T, description: string, meta: Meta = {}) {
  const text = meta.derived ? `${description}. Default: ${meta.derived}` : description;
  return schema.optional().meta({ description: text, ...(meta.default !== undefined ? { default: meta.default } : {}) });
}
/** A required field with its documentation. */
function req<T extends z.ZodType>(schema: T, description: string) {
  return schema.meta({ description });
}

const size = sizeOf();
const duration = durationOf();
const port = intIn(1, 65_535);
const name = text();
/** A name used as a subject token (cluster name, JetStream domain). */
const token = (what: string) => text().superRefine((s, ctx) => {
  const reason = tokenReason(s, what);
  if (reason) ctx.addIssue({ code: "custom", input: s, message: `${reason}: it is used as a subject token; use letters, digits, '-' or '_'` });
});
const names = z.array(name, because((v) => `must be a list of strings, got ${JSON.stringify(v)}`));
/** Where a JetStream store or a service lives: every leaf, the hub, or these hosts' leaves. */
const at = z.union([z.enum(["leaves", "hub"]), z.array(name).min(1)]).meta({ title: "leaves | hub | [host, …]" });

// ---------------------------------------------------------------- topology

export const leafPorts = record({
  client: opt(port, "client port", { default: 4222 }),
  monitoring: opt(port, "HTTP monitoring port", { default: 8222 }),
}, "{ client, monitoring }");
export const hubPorts = record({
  client: opt(port, "client port", { default: 4223 }),
  monitoring: opt(port, "HTTP monitoring port", { default: 8223 }),
  routes: opt(port, "cluster route port", { default: 6222 }),
  leafnodes: opt(port, "port leaves connect to", { default: 7422 }),
}, "{ client, monitoring, routes, leafnodes }");
/** `always` (fsync every write) or a positive duration between background fsyncs (`jetstream.sync_interval`); 0 would never flush. */
const syncInterval = z
  .union([z.literal("always"), durationOf(", or 'always' to flush every write")], because((v) => `${parseDurationNanos(v)}, or 'always' to flush every write`))
  .refine((v) => v === "always" || Number(parseDurationNanos(v)) > 0, because((v) => `${JSON.stringify(v)} would never flush: write 'always' or a positive duration such as 1s`))
  .meta({ title: "always or duration" });
export const jetstreamLimits = (leaf: boolean) =>
  record({
    maxMemory: opt(size, "`jetstream.max_mem` of each server", { default: leaf ? "256M" : "1G" }),
    maxFile: opt(size, "`jetstream.max_file` of each server; with the other servers on a host it must fit the data volume", { default: leaf ? "10G" : "48G" }),
    syncInterval: opt(syncInterval, "`jetstream.sync_interval`: `always` fsyncs every write before its ack; a duration is an opt-in loss window — a power failure can lose that much acked data, and the preview says so (docs/durability.md)", { default: leaf ? LEAF_SYNC_DEFAULT : HUB_SYNC_DEFAULT }),
  }, "{ maxMemory, maxFile, syncInterval }");
/** Where a server's HTTP monitoring listens: the host's loopback, the host's address, or this IPv4. */
const listenReason = (v: unknown): string =>
  typeof v === "string" && /^\d/.test(v)
    ? `'${v}' is not an IPv4 address: write four numbers 0-255 separated by dots, e.g. 10.0.0.41 (no prefix length here)`
    : `${JSON.stringify(v)} is not a monitoring address: write 'loopback' (the default: only the host itself reaches /varz, /connz, /jsz), 'host' (its address, reachable from the network) or an IPv4 address`;
const monitoringListen = z
  .union([z.enum(["loopback", "host"]), matching(IPV4, listenReason)], because(listenReason))
  .meta({ title: "loopback | host | IPv4" });
export const monitoringSchema = record({
  listen: opt(monitoringListen, "where /varz, /connz, /jsz listen: `loopback` (127.0.0.1, or the host's own address when it is a 127/8 one), `host` (the host's address, opened in the firewall) or an IPv4", { default: "loopback" }),
}, "{ listen }");
export const hostJetstreamSchema = record({ leaf: opt(jetstreamLimits(true), "this host's leaf JetStream settings, over `leaf.jetstream`"), hub: opt(jetstreamLimits(false), "this host's hub member JetStream settings, over `hub.jetstream`") }, "{ leaf, hub }");

export const hostResourcesSchema = record({
  cores: opt(intIn(1, 128), "CPU cores", { default: 2 }),
  memoryMiB: opt(intIn(256, 1_048_576), "memory in MiB", { derived: "2048 (leaf), 4096 (hub or both)" }),
  swapMiB: opt(intIn(0, 1_048_576), "swap in MiB", { default: 512 }),
  rootDiskGiB: opt(intIn(4, 65_536), "root disk in GiB", { default: 16 }),
  dataDiskGiB: opt(intIn(1, 1_048_576), "JetStream data mount in GiB", { derived: "32 (leaf), 64 (hub or both)" }),
}, "{ cores, memoryMiB, swapMiB, rootDiskGiB, dataDiskGiB }");
export const hostPortsSchema = record({ leaf: opt(leafPorts, "this host's leaf ports"), hub: opt(hubPorts, "this host's hub ports") }, "{ leaf, hub }");

const ROLES_FIX = "a non-empty list of roles, each 'leaf' or 'hub', e.g. [leaf, hub]";
/** Roles as a list of strings, so an unknown or repeated one is reported at `roles` with its fix; JSON Schema still lists the two. */
const roles = z
  .array(z.string(), because((v) => `is required: ${ROLES_FIX}; got ${JSON.stringify(v)}`))
  .min(1, because((v) => `is required: ${ROLES_FIX}; got ${JSON.stringify(v)}`))
  .superRefine((list, ctx) => {
    list.forEach((r, i) => {
      if (r !== "leaf" && r !== "hub") ctx.addIssue({ code: "custom", input: r, message: `unknown role ${JSON.stringify(r)}: use 'leaf' and/or 'hub'` });
      else if (list.indexOf(r) !== i) ctx.addIssue({ code: "custom", input: r, message: `role '${r}' is listed twice` });
    });
  })
  .meta({ items: { type: "string", enum: ["leaf", "hub"] }, uniqueItems: true });

export const hostSchema = record({
  name: req(matching(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, (s) => `host name '${s}' is not a valid hostname and subject token: use lower-case letters, digits and '-' (e.g. 'nats-4'), at most 63 characters`, "the container hostname, e.g. nats-1"), "host name: the leaf server name and the container's hostname"),
  vmid: req(intIn(100, 999_999_999), "Proxmox VM id of the container (unique)"),
  node: req(text("the Proxmox node it runs on, e.g. pve1"), "Proxmox node it runs on, e.g. pve1"),
  address: req(ipv4("an IPv4 address, e.g. 10.0.0.41"), "IPv4 address (unique)"),
  network: opt(name, "network of `proxmox.networks` it sits on", { default: "default" }),
  roles: req(roles, "leaf, hub, or both"),
  resources: opt(hostResourcesSchema, "container sizing"),
  tags: opt(names, "Proxmox tags, e.g. [storage]"),
  leafDomain: opt(token("JetStream domain"), "JetStream domain of its leaf (unique, not the hub's)", { derived: "the host name" }),
  ports: opt(hostPortsSchema, "ports of this host, over the section defaults"),
  jetstream: opt(hostJetstreamSchema, "JetStream limits of this host's servers, over the section defaults (e.g. a large volume's maxFile)"),
  monitoring: opt(monitoringSchema, "where this host's monitoring listens, over `topology.monitoring`"),
}, "{ name, vmid, node, address, roles }");

export const hubSchema = record({
  cluster: opt(token("cluster name"), "cluster name of the hub", { default: "cim-hub" }),
  domain: opt(token("JetStream domain"), "JetStream domain of the hub", { default: "hub" }),
  replicas: opt(intIn(1, 5), "replicas of hub streams; at most the hub members", { default: 3 }),
  ports: opt(hubPorts, "ports of every hub member"),
  jetstream: opt(jetstreamLimits(false), "JetStream limits of every hub member"),
}, "{ cluster, domain, replicas, ports, jetstream }");
export const leafSchema = record({ ports: opt(leafPorts, "ports of every leaf"), jetstream: opt(jetstreamLimits(true), "JetStream limits of every leaf") }, "{ ports, jetstream }");
/** nats-server 2.15 refuses a `lame_duck_duration` under 30 s ("minimum is 30 seconds"). */
export const MIN_LAME_DUCK_SECONDS = 30;
const seconds = (min: number) =>
  z.number(because((v) => `${JSON.stringify(v)} is not a number of seconds in (0, 3600], e.g. 30`))
    .positive(because((v) => `${JSON.stringify(v)} is not a number of seconds in (0, 3600], e.g. 30`))
    .max(3600, because((v) => `${JSON.stringify(v)} is not a number of seconds in (0, 3600], e.g. 30`))
    .min(min, because((v) => Number(v) <= 0 ? `${JSON.stringify(v)} is not a number of seconds in (0, 3600], e.g. 30` : `lame duck duration ${String(v)}s is below nats-server's minimum of ${min}s (it refuses to start): use ${min} or more; a server with no clients still stops at once`));
export const lameDuckSchema = record({
  durationSeconds: opt(seconds(MIN_LAME_DUCK_SECONDS), "lame duck duration in seconds (nats-server's minimum is 30)", { default: 30 }),
  gracePeriodSeconds: opt(seconds(0), "seconds before clients are moved; below durationSeconds", { derived: "10, at most half of durationSeconds" }),
}, "{ durationSeconds, gracePeriodSeconds }");

export const topologySchema = record({
  hosts: req(z.array(hostSchema, because(() => "needs at least one host: a list of { name, vmid, node, address, roles }")).min(1, because(() => "needs at least one host: a list of { name, vmid, node, address, roles }")), "the machines: each runs a leaf server, a hub member, or both"),
  hub: opt(hubSchema, "the hub cluster"),
  leaf: opt(leafSchema, "every leaf server"),
  dataDir: opt(name, "where servers keep their stores", { default: "/var/lib/cim-nats" }),
  lameDuck: opt(lameDuckSchema, "how servers stop: clients move to other servers first"),
  monitoring: opt(monitoringSchema, "where every server's HTTP monitoring listens"),
}, "{ hosts, hub, leaf, dataDir, lameDuck, monitoring }");

// ---------------------------------------------------------------- jetstream

/** Stream, bucket and consumer fields keep the JetStream wire names; the docs table lists the ones with meaning here. */
const wireFields = (keys: readonly string[], documented: Record<string, z.ZodType>): Record<string, z.ZodType> =>
  Object.fromEntries(keys.map((k) => [k, documented[k] ?? opt(z.unknown(), `JetStream \`${k}\` (wire name)`)]));

const streamFields: Record<string, z.ZodType> = {
  ...wireFields(STREAM_KEYS, {
    name: req(name, "stream name"),
    subjects: opt(names, "subjects it stores"),
    storage: opt(z.enum(["file", "memory"]), "storage", { default: "file" }),
    retention: opt(z.enum(["limits", "interest", "workqueue"]), "retention policy", { default: "limits" }),
    max_age: opt(z.union([duration, z.literal(0)]), "oldest message kept (0: no limit)", { default: "0" }),
    duplicate_window: opt(z.union([duration, z.literal(0)]), "de-duplication window", { default: "2m" }),
    subject_delete_marker_ttl: opt(z.union([duration, z.literal(0)]), "TTL of delete markers"),
    max_bytes: opt(z.number().int().min(-1), "byte limit (-1: none)", { default: -1 }),
    max_msgs: opt(z.number().int().min(-1), "message limit (-1: none)", { default: -1 }),
  }),
  num_replicas: opt(z.number().int().min(1).max(5), "replicas (wire name; write `replicas`)"),
  replicas: opt(z.number().int().min(1).max(5), "replicas: 1 at a leaf, up to the hub members at the hub", { default: 1 }),
  allow_rollup: opt(z.boolean(), "allow rollup headers (`allow_rollup_hdrs`)"),
};
/** An aggregate's sources are derived from the topology: no subjects, sources or mirror of its own. */
const aggregateFields = Object.fromEntries(Object.entries(streamFields).filter(([k]) => !["name", "subjects", "sources", "mirror"].includes(k)));

export const jetstreamSchema = z.strictObject({
  streams: opt(
    z.array(
      z.strictObject({
        ...streamFields,
        at: req(at, "where: leaves (one per leaf), hub, or a list of hosts"),
        aggregate: opt(
          z.strictObject({
            ...aggregateFields,
            name: req(name, "name of the hub stream"),
            republish: opt(z.unknown(), "republish block, or false", { derived: "every event again on its own subject ({ src: '>', dest: '>' })" }),
            rewinds: opt(
              z.array(z.strictObject({ domain: req(name, "the leaf's JetStream domain"), fromSeq: req(z.number().int().min(1), "first leaf sequence to source again") })),
              "repaired sequence rewinds, oldest first: each re-sources that leaf's stream from `fromSeq` under a fresh source identity (what `npm run verify` prints after a leaf lost its tail; docs/durability.md)",
              { default: [] },
            ),
          }),
          "a hub stream sourcing this stream from every leaf (leaf-level streams only)",
        ),
      }),
    ),
    "streams; names and settings as JetStream spells them",
  ),
  kv: opt(
    z.array(
      z.strictObject({
        ...wireFields(KV_KEYS, {
          bucket: req(name, "bucket name"),
          history: opt(z.number().int().min(1).max(64), "values kept per key", { default: 1 }),
          ttl: opt(z.union([duration, z.literal(0)]), "age at which values expire"),
          replicas: opt(z.number().int().min(1).max(5), "replicas", { default: 1 }),
        }),
        at: req(at, "where: leaves, hub, or a list of hosts"),
        entries: opt(z.record(z.string(), z.string()), "keys and values to put"),
      }),
    ),
    "key-value buckets",
  ),
  objects: opt(
    z.array(
      z.strictObject({
        ...wireFields(OBJECT_STORE_KEYS, { bucket: req(name, "bucket name"), replicas: opt(z.number().int().min(1).max(5), "replicas", { default: 1 }) }),
        at: req(at, "where: leaves, hub, or a list of hosts"),
      }),
    ),
    "object store buckets",
  ),
  consumers: opt(
    z.array(
      z.strictObject({
        ...wireFields(CONSUMER_KEYS, {
          name: req(name, "durable name"),
          ack_policy: opt(z.enum(["none", "all", "explicit"]), "acknowledgement policy", { default: "explicit" }),
          deliver_policy: opt(z.enum(["all", "last", "new", "by_start_sequence", "by_start_time", "last_per_subject"]), "where delivery starts", { default: "all" }),
          ack_wait: opt(z.union([duration, z.literal(0)]), "redelivery after", { default: "30s" }),
          filter_subjects: opt(names, "subjects it delivers"),
        }),
        replicas: opt(z.number().int().min(1).max(5), "replicas (`num_replicas`)"),
        stream: req(name, "stream it reads"),
        at: opt(at, "where its stream is", { derived: "where its stream is" }),
      }),
    ),
    "durable pull consumers",
  ),
  adopt: opt(flag(), "take over streams, aggregates, buckets and consumers that already exist (made by hand, the nats CLI, another tool) on their first up, in place and with their messages, instead of failing on them (docs/adopt.md)", { default: false }),
});

// ---------------------------------------------------------------- security

/** A name used as a subject token (operator, account): the security section's wording. */
const securityToken = (what: string, example?: string) => {
  const e = because((v) => (v === undefined ? `is required: the ${what}, e.g. ${example}` : `${what} must be a string, got ${JSON.stringify(v)}`));
  return z.string(e).superRefine((s, ctx) => {
    const reason = tokenReason(s, what);
    if (reason) ctx.addIssue({ code: "custom", input: s, message: `${reason}: use letters, digits, '-' or '_'` });
  }).meta({ minLength: 1 });
};
/** Permission subjects: each valid (wildcards as whole tokens), none twice. */
const subjects = (what = "permission subject") =>
  z
    .array(z.string(because((v) => `must be a subject string, got ${JSON.stringify(v)}`)), because((v) => `must be a list of subjects, e.g. ["person.events.>"], got ${JSON.stringify(v)}`))
    .superRefine((list, ctx) =>
      list.forEach((s, i) => {
        const reason = subjectReason(s, true, what);
        if (reason) ctx.addIssue({ code: "custom", path: [i], input: s, message: reason });
        else if (list.indexOf(s) !== i) ctx.addIssue({ code: "custom", path: [i], input: s, message: `subject '${s}' is listed twice: remove one` });
      }),
    );
const nameList = (example: string, what = "names") => z.array(z.string().min(1), because((v) => `must be a list of ${what}, e.g. [${example}]; got ${JSON.stringify(v)}`));

export const subjectRuleSchema = record({ allow: opt(subjects(), "subjects allowed (empty: all)"), deny: opt(subjects(), "subjects denied") }, "{ allow, deny }");
const bucketNames = () => nameList("PERSON_METADATA", "bucket names");
export const bucketsSchema = record({ kv: opt(bucketNames(), "KV buckets"), objects: opt(bucketNames(), "object buckets") }, "{ kv, objects }");

/** A service says what it does (bindings); the stack derives its permissions (docs/security.md). */
export const bindingFields = {
  publishes: opt(nameList("PERSON_EVENTS"), "streams it writes (acked publishes)"),
  consumes: opt(nameList("PERSON_EVENTS"), "consumers it pulls from"),
  subscribes: opt(subjects(), "core subjects it subscribes to"),
  serves: opt(subjects(), "subjects it answers requests on"),
  reads: opt(bucketsSchema, "buckets it reads (gets)"),
  writes: opt(bucketsSchema, "buckets it writes"),
  watches: opt(bucketsSchema, "buckets it follows through consumers it creates (nats.js kv watch, object get)"),
};

const responseTtl = z.string(because((v) => String(parseDurationMs(v)))).refine((v) => typeof parseDurationMs(v) === "number", because((v) => String(parseDurationMs(v)))).meta({ title: "duration", pattern: DURATION_PATTERN });
const positive = because((v) => `${JSON.stringify(v)} is not a positive whole number of replies per request`);
export const responsesSchema = record({ max: opt(z.number(positive).int(positive).min(1, positive), "replies per request", { default: 1 }), ttl: opt(responseTtl, "how long it may reply") }, "{ max, ttl }");
const responsesFix = (v: unknown) => `must be true, false or { max, ttl }, e.g. { max: 1, ttl: 2s }; got ${JSON.stringify(v)}`;

export const CONNECTION_TYPES = ["STANDARD", "WEBSOCKET", "LEAFNODE", "LEAFNODE_WS", "MQTT", "MQTT_WS", "IN_PROCESS"] as const;
const connectionTypesFix = (v: unknown) => `must be a non-empty list of connection types (${CONNECTION_TYPES.join(", ")}), got ${JSON.stringify(v)}`;
const connectionTypes = z
  .array(z.enum(CONNECTION_TYPES, because((v) => `unknown connection type ${JSON.stringify(v)}: use ${CONNECTION_TYPES.join(", ")}`)), because(connectionTypesFix))
  .min(1, because(connectionTypesFix));
const userNameFix = "use letters, digits, '-' and '_' (it names the .creds file), e.g. person-service";
/** The place names of `at` are the topology's hosts: the section parser checks them (jetstream/locations.ts). */
const placeFix = "use `leaves`, `hub`, or a list of host names";
const place = z
  .union([z.enum(["leaves", "hub"]), z.array(name, because((v) => `'${String(v)}' is not a place; ${placeFix}`)).min(1, because(() => `the host list is empty; ${placeFix}`))], because((v) => `'${String(v)}' is not a place; ${placeFix}`))
  .meta({ title: "leaves | hub | [host, …]" });

export const userSchema = record({
  name: req(matching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, (_, v) => `${v === undefined ? "is required" : `${JSON.stringify(v)} is not a valid user name`}: ${userNameFix}`), "user name; also its creds file and context name"),
  account: opt(securityToken("account name", "PLATFORM"), "the account it belongs to: a declared account (required without bindings), or for a service with bindings a trust group it shares with the services it trusts", { derived: "a service with bindings: an account of its own, named after it" }),
  at: opt(place, "where it connects: leaves, hub, or a list of hosts (required with bindings)"),
  inboxPrefix: opt(
    z.string(because((v) => `must be a string such as _INBOX_person-service, got ${JSON.stringify(v)}`)).refine((v) => !inboxPrefixReason(v), because((v) => inboxPrefixReason(String(v)))),
    "its reply inbox",
    { derived: "`_INBOX_<name>`" },
  ),
  ...bindingFields,
  publish: opt(subjectRuleSchema, "extra publish permissions"),
  subscribe: opt(subjectRuleSchema, "extra subscribe permissions"),
  allowResponses: opt(z.union([flag(), responsesSchema], because(responsesFix)), "may reply to requests it received"),
  requestReply: opt(flag(), "may make requests (gets its inbox)"),
  leafLink: opt(z.string(because((v) => `${JSON.stringify(v)} is not a leaf server of the topology: write a leaf's server name (its host's name)`)).min(1, because(() => `"" is not a leaf server of the topology: write a leaf's server name (its host's name)`)), "leaf server whose leafnode link it is (then no bindings)"),
  connectionTypes: opt(connectionTypes, "connection types allowed", { default: ["STANDARD", "WEBSOCKET"] }),
}, "{ name, account?, at?, bindings…, publish?, subscribe? }");

const limitSize = () => sizeOf(true, "is required when jetstream is set: a size such as 1G, or -1 for unlimited");
const count = () => {
  const e = because((v) => `${JSON.stringify(v)} is not a count: write a whole number, or -1 for unlimited`);
  return z.number(e).int(e).min(-1, e);
};
export const accountJetStreamSchema = record({
  maxMemory: req(limitSize(), "memory storage limit (-1: the server's)"),
  maxFile: req(limitSize(), "file storage limit (-1: the server's)"),
  maxStreams: opt(count(), "stream limit (-1: none)", { default: -1 }),
  maxConsumers: opt(count(), "consumer limit (-1: none)", { default: -1 }),
}, "{ maxMemory, maxFile, maxStreams, maxConsumers }");
export const accountSchema = record({
  name: req(securityToken("account name", "PLATFORM"), "account name"),
  jetstream: opt(accountJetStreamSchema, "JetStream limits; without it JetStream is off for the account"),
}, "{ name, jetstream }");

const ACCOUNT_PUBLIC_KEY = /^A[A-Z2-7]{55}$/;
const accountPublicKeys = z.array(
  matching(ACCOUNT_PUBLIC_KEY, (k) =>
    /^"?S/.test(k)
      ? "looks like a seed, not a public key: remove it from the stack config now (a seed there is a leak; rotate that key) and list the public key (A…) instead"
      : `${k} is not an account public key (A followed by 55 base32 characters, as \`nsc describe account\` lists signing keys)`,
  ),
  because((v) => `must be a list of account public keys, got ${JSON.stringify(v)}`),
);
export const IDENTITY_SOURCES = ["generated", "nsc", "config"] as const;
export const identitiesSchema = record({
  source: opt(
    z.enum(IDENTITY_SOURCES, because((v) => `${JSON.stringify(v)} is not an identity source: use generated (the stack makes its keys), nsc (an nsc store's keys, read at each run) or config (the secret cim-nats:identitySeeds)`)),
    "where the operator and account keys come from: generated once by the stack, an existing nsc store (`dir`), or the secret `cim-nats:identitySeeds`",
    { default: "generated" },
  ),
  dir: opt(text("the nsc data folder holding stores/ and keys/ (`nsc env` shows both)"), "source nsc: the folder holding nsc's `stores/` (JWTs) and `keys/` (seeds); read at every preview and up, never copied into the repo", { derived: "required with source nsc" }),
  keysDir: opt(text("nsc's keystore folder"), "source nsc: nsc's keystore (`NKEYS_PATH`)", { derived: "`<dir>/keys`" }),
  signingKeys: opt(z.record(z.string(), accountPublicKeys), "account name → signing keys its JWT keeps listing, so creds nsc signed with them keep working (source nsc adds the store's own)"),
  undeclaredUsers: opt(
    z.enum(["keep", "revoke"], because((v) => `${JSON.stringify(v)} is not a choice: keep (their nsc creds keep working) or revoke (the account JWT revokes them)`)),
    "source nsc: users in the store that `users` does not declare: keep their creds working, or revoke them",
    { default: "keep" },
  ),
  allowSwitch: opt(flag(), "let an up replace the operator or an account key (generated ↔ provided, or another provided key): every creds file issued before stops working", { default: false }),
}, "{ source, dir?, keysDir?, signingKeys?, undeclaredUsers?, allowSwitch? }");

const accountsFix = () => "needs at least one application account: a list of { name, jetstream: { maxMemory, maxFile } }, e.g. [{ name: PLATFORM }]";
export const securitySchema = record({
  operator: req(securityToken("operator name", "COWBOY_AI"), "operator name"),
  systemAccount: opt(securityToken("system account name", "SYS"), "system account", { default: "SYS" }),
  applicationAccount: opt(name, "account leaves bind and the JetStream admin uses (required with several accounts)"),
  accounts: req(z.array(accountSchema, because(accountsFix)).min(1, because(accountsFix)), "accounts"),
  users: opt(z.array(userSchema, because((v) => `must be a list of users { name, account, publish, subscribe }, got ${JSON.stringify(v)}`)), "users: services with bindings, leaf links, or explicit permissions"),
  identities: opt(identitiesSchema, "bring your own operator and account keys (docs/adopt.md)", { derived: "{ source: generated }" }),
}, "{ operator, accounts, users, identities? }");

// ---------------------------------------------------------------- proxmox

const show = (v: unknown) => JSON.stringify(v);
const httpUrl = (bad: (s: string) => string, required: string) => matching(/^https?:\/\/\S+$/, bad, required);
export const templateDownloadSchema = record({
  url: req(httpUrl((s) => `'${s}' is not an http(s) URL`, "the http(s) URL of the NixOS LXC template (.tar.xz)"), "http(s) URL of the NixOS LXC template (.tar.xz)"),
  fileName: opt(name, "file name on the node", { derived: "the URL's last path segment" }),
  datastore: opt(name, "storage to download to", { default: "local" }),
  checksum: opt(name, "expected checksum (with checksumAlgorithm)"),
  checksumAlgorithm: opt(z.enum(CHECKSUM_ALGORITHMS, because((v) => `${show(v)} is not supported: use one of ${CHECKSUM_ALGORITHMS.join(", ")}`)), "checksum algorithm"),
}, "{ url, fileName?, datastore?, checksum?, checksumAlgorithm? }");
const FILE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*:vztmpl\/\S+$/;
const templateReason = (v: unknown) =>
  typeof v === "string"
    ? `'${v}' is not a container template file id: write <storage>:vztmpl/<file>, e.g. local:vztmpl/nixos-25.11-x86_64-linux.tar.xz`
    : `must be a file id (local:vztmpl/<file>) or { url, fileName?, datastore?, checksum?, checksumAlgorithm? }; got ${show(v)}`;
const template = z.union([matching(FILE_ID, templateReason), templateDownloadSchema], because(templateReason));

const ipv4Short = (required?: string) => matching(IPV4, (s) => `'${s}' is not an IPv4 address`, required);
export const networkSchema = record({
  cidr: req(text("the IPv4 subnet, e.g. 10.0.0.0/24").refine((c) => !parseCidr(c).reason, because((v) => parseCidr(String(v)).reason)), "subnet, e.g. 10.0.0.0/24"),
  gateway: req(ipv4Short("the default gateway, e.g. 10.0.0.1"), "gateway address"),
  bridge: req(text("the Proxmox bridge, e.g. vmbr0"), "Proxmox bridge, e.g. vmbr0"),
  dns: opt(z.array(ipv4Short(), because((v) => `must be a list of strings, got ${show(v)}`)), "DNS servers"),
}, "{ cidr, gateway, bridge, dns }");
/** A host key line's fix names the node's address, so the check sits on the node entry. */
export const sshNodeSchema = record({
  name: req(text("the node name, e.g. pve1"), "node name"),
  address: req(text("the node's SSH address"), "its SSH address"),
  port: opt(port, "its SSH port", { default: 22 }),
  hostKey: opt(text("the node's SSH host public key line").meta({ pattern: OPENSSH_PUBLIC_KEY.source }), "the node's SSH host public key (`ssh-ed25519 AAAA…`, checked on its console); pins the node, through which each container's host key is read"),
}, "{ name, address, port? }").refine((n) => n.hostKey === undefined || OPENSSH_PUBLIC_KEY.test(n.hostKey), {
  path: ["hostKey"],
  when: (p) => typeof (p.value as { hostKey?: unknown } | undefined)?.hostKey === "string",
  error: (iss) => `is not an OpenSSH public key line ('<type> <base64> [comment]'): take \`ssh-keyscan -t ed25519 ${(iss.input as { address?: string }).address || "<node>"}\` and check it against \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the node's console`,
});
const authorizedKey = matching(/^(ssh-|ecdsa-|sk-)\S+ [A-Za-z0-9+/=]+( .*)?$/, () => "is not an OpenSSH public key line ('<type> <base64> [comment]', as in a .pub file)");
export const sshSchema = record({
  username: opt(name, "user on the Proxmox nodes", { default: "root" }),
  agent: opt(flag(), "use the SSH agent instead of cim-nats:sshPrivateKey", { default: false }),
  authorizedKeys: opt(z.array(authorizedKey, because((v) => `must be a list of strings, got ${show(v)}`)), "keys allowed into the containers (the deploy key is added)"),
  containerUser: opt(name, "user the deploy logs into containers as", { default: "root" }),
  containerPort: opt(port, "SSH port of the containers", { default: 22 }),
  nodes: opt(z.array(sshNodeSchema, because((v) => `must be a list of { name, address, port? }, got ${show(v)}`)), "SSH addresses (and host keys) of the nodes"),
  verifyHostKeys: opt(flag(), "pin every container's SSH host key, read through its node (needs ssh.nodes[].hostKey of every node hosting a container)", { default: true }),
}, "{ username, agent, authorizedKeys, containerUser, containerPort, nodes }");

/** The sha256's fix names the pin's URL, so the check sits on the pin. */
export const nixpkgsPinSchema = record({
  url: req(httpUrl((s) => `'${s}' is not an http(s) URL of a nixpkgs tarball`, "a nixpkgs tarball URL, e.g. https://github.com/NixOS/nixpkgs/archive/<rev>.tar.gz"), "http(s) URL of a nixpkgs tarball, e.g. https://github.com/NixOS/nixpkgs/archive/<rev>.tar.gz"),
  sha256: req(text("the sha256 of the unpacked tree (`nix-prefetch-url --unpack <url>`, or the narHash of a flake.lock)").meta({ pattern: NIX_SHA256_PATTERN.source }), "sha256 of the unpacked tree (fetchTarball's; a flake.lock narHash): Nix base32 or sha256-… SRI"),
}, "{ url, sha256 }").refine((p) => NIX_SHA256_PATTERN.test(p.sha256), {
  path: ["sha256"],
  when: (p) => typeof (p.value as { sha256?: unknown } | undefined)?.sha256 === "string",
  error: (iss) => {
    const pin = iss.input as { url?: unknown; sha256: string };
    return `'${pin.sha256}' is neither a Nix base32 sha256 (52 characters) nor an SRI hash (sha256-<44 base64>); take the output of \`nix-prefetch-url --unpack ${typeof pin.url === "string" && pin.url ? pin.url : "<url>"}\``;
  },
});
export const nixGcSchema = record({
  dates: opt(name, "when `nix.gc` runs (systemd calendar)", { default: DEFAULT_NIX_GC.dates }),
  deleteOlderThan: opt(matching(NIX_GC_AGE_PATTERN, (s) => `'${s}' is not a number of days like '30d' (nix-collect-garbage --delete-older-than)`), "generations younger than this are kept, e.g. 30d", { default: DEFAULT_NIX_GC.deleteOlderThan }),
}, "{ dates, deleteOlderThan }");
export const nixosSchema = record({
  nixpkgs: opt(nixpkgsPinSchema, "the nixpkgs every host's system is built against", { derived: "nixos-25.11 at 8fd9daa3db09 (components/deploy/nixos-system.ts)" }),
  builders: opt(
    text("a Nix builders line, e.g. 'ssh://nix@builder x86_64-linux'"),
    "a build host for the hosts' systems, as Nix's --builders line (e.g. ssh://nix@builder x86_64-linux); unset: the machine running the deploy builds",
  ),
  gc: opt(nixGcSchema, "automatic garbage collection of the Nix store"),
}, "{ nixpkgs: { url, sha256 }, builders, gc: { dates, deleteOlderThan } }");

const NODE_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const nodesFix = (v: unknown) => `is required: the Proxmox node names, e.g. [pve1, pve2, pve3]; got ${show(v)}`;
const nodeNames = z
  .array(matching(NODE_NAME, (_, v) => `${show(v)} is not a node name: use the name Proxmox shows, e.g. pve1`), because(nodesFix))
  .min(1, because(nodesFix))
  .superRefine((list, ctx) => list.forEach((n, i) => list.indexOf(n) !== i && ctx.addIssue({ code: "custom", path: [i], input: n, message: `node '${n}' is listed twice` })));
const endpointReason = (s: string) => `'${s}' is not an http(s) URL: write the API address, e.g. https://10.0.0.11:8006/`;
const hasHost = (s: string) => {
  try {
    return new URL(s).hostname !== "";
  } catch {
    return false;
  }
};
const templatesFix = (v: unknown) => `is required: the NixOS LXC template per node, e.g. { pve1: local:vztmpl/nixos-25.11-x86_64-linux.tar.xz }; got ${show(v)}`;
const networksFix = (v: unknown) => `is required: named networks, e.g. { default: { cidr: 10.0.0.0/24, gateway: 10.0.0.1, bridge: vmbr0, dns: [10.0.0.1] } }; got ${show(v)}`;
export const proxmoxSchema = record({
  endpoint: req(httpUrl(endpointReason, "the Proxmox API URL, e.g. https://10.0.0.11:8006/").refine(hasHost, because((v) => endpointReason(String(v)))), "Proxmox API URL, e.g. https://10.0.0.11:8006/"),
  insecure: opt(flag(), "accept a self-signed API certificate", { default: false }),
  nodes: req(nodeNames, "Proxmox node names"),
  templates: req(z.record(z.string(), template, because(templatesFix)), "NixOS LXC template per node: a file id (local:vztmpl/…) or a download"),
  datastore: req(text("the storage for root disks and data volumes, e.g. local-lvm"), "storage for root disks and data volumes, e.g. local-lvm"),
  networks: req(z.record(z.string(), networkSchema, because(networksFix)).refine((o) => Object.keys(o).length > 0, because(networksFix)), "networks by name; hosts pick one with `network`"),
  ssh: opt(sshSchema, "SSH access of the provider and the deploy"),
  dataMountPath: opt(matching(/^\//, (s) => `'${s}' is not an absolute path: write e.g. /var/lib/cim-nats`), "where the data volume is mounted in containers", { default: "/var/lib/cim-nats" }),
  protect: opt(flag(), "protect containers from deletion (Pulumi and Proxmox)", { default: true }),
  adopt: opt(names, "hosts whose containers existed before the stack (taken over with `pulumi import`, docs/adopt.md): their replace-only inputs are never compared, so no difference from the hand-made container plans a replacement"),
  nixos: opt(nixosSchema, "NixOS of the containers: pinned nixpkgs, garbage collection"),
}, "{ endpoint, nodes, templates, datastore, networks }");

// ---------------------------------------------------------------- cidService

export const cidServiceSchema = z.strictObject({
  at: req(name, "host whose leaf the service connects to"),
  user: req(name, "security user it runs as"),
  bucket: opt(name, "object bucket it stores into", { default: DEFAULT_BUCKET }),
  subjectPrefix: opt(name, "subjects it serves: `<prefix>.put`, `<prefix>.get.<cid>`", { default: DEFAULT_SUBJECT_PREFIX }),
  healthPort: opt(port, "HTTP health port", { default: 8290 }),
  maxPendingBytes: opt(size, "bytes of unfinished chunked uploads it holds at once, all clients together; a chunk over it is refused with 503 (retry later)", { default: "256M" }),
});

// ---------------------------------------------------------------- tls

const days = (min: number, max: number) => {
  const e = because((v) => `${JSON.stringify(v)} must be a whole number of days in [${min}, ${max}]`);
  return z.number(e).int(e).min(min, e).max(max, e);
};
const tlsDays = {
  caDays: opt(days(2, 36_500), "lifetime of a generated CA, in days (changing it never replaces an existing CA)", { default: 3650 }),
  serverDays: opt(days(2, 3650), "lifetime of each server certificate, in days", { default: 365 }),
  renewBeforeDays: opt(days(1, 3649), "re-issue a server certificate this many days before it ends (`up` does, `preview` shows it)", { default: 30 }),
};
const PEM_CERT = /^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*$/;
const caCert = (() => {
  const e = because(() => "mode provided needs the CA certificate as PEM (-----BEGIN CERTIFICATE----- …): `pulumi config set --path cim-nats:tls.caCert \"$(cat ca.pem)\"`");
  return z.string(e).regex(/^-----BEGIN CERTIFICATE-----/, e).refine((s) => PEM_CERT.test(s.trim() + "\n"), e);
})();
export const tlsSchema = z.discriminatedUnion(
  "mode",
  [
    z.strictObject({ mode: z.literal("generated").describe("the stack issues a private CA once (a secret in state) and every server's certificate"), ...tlsDays }),
    z.strictObject({
      mode: z.literal("provided").describe("your CA: the stack issues every server's certificate from it"),
      caCert: req(caCert, "the CA certificate (PEM); its key goes in the secret `cim-nats:tlsCaKey`"),
      ...tlsDays,
    }),
    z.strictObject({ mode: z.literal("off").describe("no TLS on any listener (explicit opt-out; prod policy flags it)") }),
  ],
  { error: (iss) => (iss.code === "invalid_union" ? `${JSON.stringify((iss.input as { mode?: unknown })?.mode)} is not a TLS mode: use generated (the stack's own CA), provided (your CA) or off` : `${JSON.stringify(iss.input)} is not an object: write { mode: generated } (or provided, off)`) },
);

// ---------------------------------------------------------------- the stack config

/** A Pulumi secret as it sits in Pulumi.<stack>.yaml. */
const secret = z.strictObject({ secure: z.string() }).meta({ title: "secret" });

/** Every `cim-nats:*` key of Pulumi.<stack>.yaml. */
export const stackConfigSchema = {
  "cim-nats:substrate": opt(z.enum(["proxmox", "local"]), "where servers run: Proxmox LXC + NixOS, or local processes on loopback", { default: "proxmox" }),
  "cim-nats:allowDataLoss": opt(z.boolean(), "let destroy and replacements drop streams and buckets holding data", { default: false }),
  "cim-nats:topology": req(topologySchema, "hosts, hub and leaves"),
  "cim-nats:jetstream": opt(jetstreamSchema, "streams, buckets and consumers"),
  "cim-nats:security": req(securitySchema, "operator, accounts and users"),
  "cim-nats:proxmox": opt(proxmoxSchema, "Proxmox settings (substrate proxmox)"),
  "cim-nats:cidService": opt(cidServiceSchema, "the CID object service"),
  "cim-nats:tls": opt(tlsSchema, "TLS on every listener and link: generated (the stack's own CA), provided (yours) or off", { derived: "{ mode: generated }" }),
  "cim-nats:identitySeeds": opt(
    z.strictObject({ operator: opt(secret, "the operator's seed (SO…)"), accounts: opt(z.record(z.string(), secret), "account name → its seed (SA…)") }),
    "seeds of `security.identities.source: config`, each a secret: `pulumi config set --secret --path 'cim-nats:identitySeeds.accounts.PLATFORM'` (value on stdin)",
  ),
  "cim-nats:tlsCaKey": opt(secret, "private key (PKCS#8 PEM) of the CA of `tls.mode: provided` (`pulumi config set --secret`)"),
  "cim-nats:proxmoxApiToken": opt(secret, "Proxmox API token USER@REALM!TOKENID=SECRET (`pulumi config set --secret`)"),
  "cim-nats:sshPrivateKey": opt(secret, "SSH key of the deploy (`pulumi config set --secret`)"),
} as const;

/** The field names of an object schema, in declaration order: the parsers' unknown-key lists. */
export function fieldsOf(schema: z.ZodObject): string[] {
  return Object.keys(schema.shape);
}
