/**
 * `cim-nats:cidService` → a validated CID service spec: which leaf it serves at, with which user,
 * over which bucket. Pure: no I/O, no Pulumi. The same spec drives the dev process
 * (LocalCidService) and the prod unit (nix/modules/cim-cid-service.nix), and the stack output
 * `cidService` that clients and `npm run verify` read.
 *
 * ```yaml
 * cim-nats:cidService:
 *   at: cimstor                  # a leaf server (the bucket must be declared there)
 *   user: cid-service            # a security user: at [cimstor], reads+writes objects, serves <prefix>.>
 *   bucket: CLUSTER_OBJECTS      # default
 *   subjectPrefix: cimstor.objects  # default
 *   healthPort: 8290             # HTTP /healthz on the leaf's address; default 8290
 *   maxPendingBytes: 256M        # unfinished uploads held in memory, all clients; default 256M
 * ```
 */
import type { JetStreamSpec } from "../jetstream/spec";
import type { SecuritySpec } from "../security/types";
import { subjectCovers } from "../subjects/subject";
import { ConfigError, type ConfigIssue } from "../config/errors";
import { fieldsOf } from "../config/atoms";
import { cidServiceSchema, DEFAULT_CID_HEALTH_PORT } from "./schema";
import { type Topology } from "../topology/types";
import { DEFAULT_BUCKET, DEFAULT_MAX_PENDING_BYTES, DEFAULT_SUBJECT_PREFIX } from "./cid";
import { parseByteSize } from "../security/units";

/** The section's fields, from the declared schema (schema.ts). */
const KEYS = fieldsOf(cidServiceSchema);

export type CidServiceSpec = {
  /** Leaf server it connects to. */
  readonly leaf: string;
  /** Host (container) of that leaf: the prod unit runs there. */
  readonly host: string;
  readonly address: string;
  /** `nats://<leaf address>:<client port>`. */
  readonly clientUrl: string;
  readonly jetstreamDomain: string;
  readonly user: string;
  readonly inboxPrefix: string;
  readonly bucket: string;
  readonly subjectPrefix: string;
  readonly healthPort: number;
  /** Bytes of unfinished uploads held at once (a memory cap; a chunk over it gets 503). */
  readonly maxPendingBytes: number;
};

/** The public stack output `cidService`. */
export type CidServiceOutput = CidServiceSpec & {
  /** `http://<address>:<healthPort>/healthz`. */
  readonly healthUrl: string;
  /** `<prefix>.put`. */
  readonly putSubject: string;
  /** `<prefix>.get.<cid>`. */
  readonly getSubject: string;
};

/** Parses the section; undefined when the stack has no CID service. Throws one ConfigError listing every problem. */
export function parseCidService(raw: unknown, topology: Topology, jetstream: JetStreamSpec, security: SecuritySpec): CidServiceSpec | undefined {
  if (raw === undefined || raw === null) return undefined;
  const root = "cidService";
  const issues: ConfigIssue[] = [];
  const at = (propertyPath: string, reason: string) => issues.push({ propertyPath, reason });
  if (typeof raw !== "object" || Array.isArray(raw)) throw new ConfigError([{ propertyPath: root, reason: "must be an object { at, user, bucket, subjectPrefix, healthPort, maxPendingBytes }" }]);
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!KEYS.includes(k)) at(`${root}.${k}`, `unknown setting '${k}'; known: ${KEYS.join(", ")}`);
  const leafName = String(r.at ?? "");
  const leaf = topology.leaves.find((l) => l.serverName === leafName);
  if (!leaf) at(`${root}.at`, `'${leafName}' is not a leaf server; leaves are ${topology.leaves.map((l) => l.serverName).join(", ")}`);
  const bucket = r.bucket === undefined ? DEFAULT_BUCKET : String(r.bucket);
  const subjectPrefix = r.subjectPrefix === undefined ? DEFAULT_SUBJECT_PREFIX : String(r.subjectPrefix);
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(subjectPrefix)) at(`${root}.subjectPrefix`, `'${subjectPrefix}' must be a literal subject such as cimstor.objects`);
  const healthPort = r.healthPort === undefined ? DEFAULT_CID_HEALTH_PORT : Number(r.healthPort);
  if (!Number.isInteger(healthPort) || healthPort < 1 || healthPort > 65535) at(`${root}.healthPort`, `${JSON.stringify(r.healthPort)} is not a port`);
  const pending = r.maxPendingBytes === undefined ? DEFAULT_MAX_PENDING_BYTES : parseByteSize(r.maxPendingBytes);
  if (typeof pending !== "number" || pending < 1) at(`${root}.maxPendingBytes`, `${JSON.stringify(r.maxPendingBytes)} is not a size of at least one byte: write e.g. 256M`);
  if (leaf && !jetstream.objects.some((o) => o.config.bucket === bucket && o.location.domain === leaf.jetstreamDomain)) {
    at(`${root}.bucket`, `object bucket '${bucket}' is not declared at ${leafName}: declare it under jetstream.objects with at: [${leafName}]`);
  }
  const userName = String(r.user ?? "");
  const user = security.users.find((u) => u.name === userName);
  if (!user) at(`${root}.user`, `'${userName}' is not a security user: declare it under security.users (at: [${leafName}], reads and writes objects ${bucket}, serves ${subjectPrefix}.>)`);
  else {
    const b = user.bindings;
    const need: string[] = [];
    if (!user.places?.some((p) => p.level === "leaf" && p.name === leafName)) need.push(`at: [${leafName}]`);
    if (!b?.reads.objects.includes(bucket)) need.push(`reads: { objects: [${bucket}] }`);
    if (!b?.writes.objects.includes(bucket)) need.push(`writes: { objects: [${bucket}] }`);
    if (!b?.serves.some((s) => subjectCovers(s, `${subjectPrefix}.>`))) need.push(`serves: ["${subjectPrefix}.>"]`);
    if (need.length) at(`${root}.user`, `user '${userName}' lacks what the CID service does: add ${need.join(", ")}`);
  }
  if (issues.length) throw new ConfigError(issues);
  return {
    leaf: leaf!.serverName,
    host: leaf!.host,
    address: leaf!.address,
    clientUrl: `nats://${leaf!.address}:${leaf!.clientPort}`,
    jetstreamDomain: leaf!.jetstreamDomain,
    user: userName,
    inboxPrefix: user!.inboxPrefix ?? `_INBOX_${userName}`,
    bucket,
    subjectPrefix,
    healthPort,
    maxPendingBytes: typeof pending === "number" ? pending : DEFAULT_MAX_PENDING_BYTES,
  };
}

export function cidServiceOutput(spec: CidServiceSpec): CidServiceOutput {
  return { ...spec, healthUrl: `http://${spec.address}:${spec.healthPort}/healthz`, putSubject: `${spec.subjectPrefix}.put`, getSubject: `${spec.subjectPrefix}.get.<cid>` };
}
