/**
 * `npm run verify`'s verdicts: what the probes observed (probe.ts) + what the stack declares (its
 * outputs) → one row per server with a cell per check, every failure with what to look at.
 * Pure: no I/O; tests feed it observations directly.
 */
import { lossWindow } from "../config/durability";
import { parseDurationNanos } from "../config/units";
import type { DeclaredConsumer, DeclaredJetStream, DeclaredStream } from "./declared";
import type { RewindFinding } from "./rewind";

/** The parts of `pulumi stack output --json --show-secrets` verify reads. */
export type VerifyOutputs = {
  readonly stack: string;
  readonly substrate?: string;
  readonly leaves: Readonly<Record<string, { readonly host: string; readonly clientUrl: string; readonly monitoringUrl: string; readonly monitoringScope?: MonitoringScope; readonly jetstreamDomain: string }>>;
  readonly hub: { readonly cluster: string; readonly jetstreamDomain: string; readonly clientUrls: readonly string[]; readonly monitoringUrls: readonly string[]; readonly monitoringScopes?: readonly MonitoringScope[] };
  readonly declared?: DeclaredJetStream;
  readonly cidService?: { readonly leaf: string; readonly clientUrl: string; readonly subjectPrefix: string; readonly bucket: string; readonly healthUrl: string } | null;
  readonly jetstreamAdminCreds?: string;
  /** The stack's CA certificate (PEM) when its servers require TLS (`tls.caCert` output). */
  readonly tls?: { readonly mode: string; readonly caCert: string | null } | null;
  /** Each server's declared sync mode and loss window (`durability` output); absent in older stacks. */
  readonly durability?: readonly { readonly server: string; readonly kind: string; readonly syncInterval: string; readonly lossWindow: string }[];
  /** Each account's public key and current JWT (`accounts` output; public); absent in older stacks. */
  readonly accounts?: Readonly<Record<string, { readonly publicKey: string; readonly jwt: string }>>;
};

/** One server of the topology as verify sees it. */
export type ServerRef = {
  readonly server: string;
  readonly kind: "leaf" | "hub";
  readonly domain: string;
  readonly clientUrl: string;
  readonly monitoringUrl: string;
  /** `host`: monitoring answers on the server's host only (loopback); absent in older outputs. */
  readonly monitoringScope?: MonitoringScope;
};

/** Who reaches a server's monitoring (outputs' monitoringScope). */
export type MonitoringScope = "host" | "network";

/** The checks, in table order. */
export const CHECKS = ["reachable", "healthz", "identity", "routes", "leafnode", "accounts", "meta", "durability", "streams", "replicas", "consumers", "sources", "cid"] as const;
export type CheckName = (typeof CHECKS)[number];

export type Cell = { readonly status: "ok" | "fail" | "n/a"; readonly detail: string };
export type Row = { readonly server: string; readonly kind: "leaf" | "hub"; readonly cells: Readonly<Record<CheckName, Cell>> };
export type Failure = { readonly server: string; readonly check: CheckName; readonly message: string };
/** One server's sync mode as running, what the stack declares, and what a power failure can lose there. */
export type ServerDurabilityLine = { readonly server: string; readonly running: string; readonly declared?: string; readonly lossWindow: string };
/** One aggregate source: how far behind, and whether the hub's sequence still matches the leaf's stream. */
export type SourceLine = {
  readonly aggregate: string;
  readonly source: string;
  readonly leaf: string;
  readonly lag?: number;
  readonly hubSeq?: number;
  readonly leafLast?: number;
  readonly sequence: string;
};
export type VerifyReport = {
  readonly stack: string;
  readonly rows: readonly Row[];
  readonly failures: readonly Failure[];
  readonly passed: number;
  readonly total: number;
  /** The durability picture: every server's sync mode and loss window, every aggregate source's lag and sequence consistency. */
  readonly durability: { readonly servers: readonly ServerDurabilityLine[]; readonly sources: readonly SourceLine[] };
};

/** What the HTTP probes of one server saw; an `error` string where a request failed. */
export type ServerObservation = {
  readonly varz?: { readonly server_name?: string; readonly jetstream?: { readonly config?: { readonly domain?: string; readonly sync_interval?: number; readonly sync_always?: boolean } } };
  readonly varzError?: string;
  readonly healthz?: { readonly status: number; readonly body: string };
  readonly healthzError?: string;
  /** Names of the route peers (`/routez` remote_name, de-duplicated: route pooling opens several per peer). */
  readonly routePeers?: readonly string[];
  /** Leafnode connections (`/leafz`): remote server names. */
  readonly leafnodes?: readonly string[];
  /** Account name → the JWT this server enforces (`/accountz?acc=`), or why there is none (not loaded here). */
  readonly accounts?: Readonly<Record<string, { readonly jwt?: string; readonly error?: string }>>;
  readonly jsz?: {
    readonly meta_cluster?: { readonly leader?: string; readonly cluster_size?: number; readonly replicas?: readonly { readonly name: string; readonly current?: boolean; readonly offline?: boolean; readonly active?: number }[] };
    /** `/jsz?accounts=true&streams=true`: each stream's state in this server's own store, and its group's leader. */
    readonly account_details?: readonly { readonly name?: string; readonly stream_detail?: readonly ReplicaObservation[] }[];
  };
};

/** One stream replica as its server's /jsz reports it. */
export type ReplicaObservation = {
  readonly name: string;
  readonly cluster?: { readonly leader?: string };
  readonly state?: { readonly messages: number; readonly first_seq: number; readonly last_seq: number };
};

/** A stream's live state as `STREAM.INFO` answered it (only what is compared). */
export type StreamObservation = {
  readonly config?: { readonly subjects?: readonly string[]; readonly storage?: string; readonly num_replicas?: number; readonly max_age?: number; readonly retention?: string; readonly max_msgs_per_subject?: number };
  /** Aggregate sources: name, API prefix, lag (messages), active (ns since last contact, -1 never), seq (last leaf sequence stored). */
  readonly sources?: readonly { readonly name: string; readonly external?: { readonly api?: string }; readonly lag: number; readonly active: number; readonly seq?: number }[];
  /** First and last sequence (a leaf stream's, for the aggregate's sequence check). */
  readonly state?: { readonly first_seq: number; readonly last_seq: number; readonly messages: number };
  /** When the stream was created (its identity: a stream created anew is another stream to a source). */
  readonly created?: string;
  readonly error?: string;
};
export type ConsumerObservation = { readonly config?: { readonly ack_policy?: string; readonly deliver_policy?: string; readonly filter_subjects?: readonly string[]; readonly filter_subject?: string }; readonly error?: string };

export type CidObservation = { readonly putCid?: string; readonly getBytes?: number; readonly error?: string; readonly health?: string };

export type Observations = {
  readonly servers: Readonly<Record<string, ServerObservation>>;
  /** `<domain>/<stream>` → what STREAM.INFO said. */
  readonly streams: Readonly<Record<string, StreamObservation>>;
  /** `<domain>/<stream>/<consumer>`. */
  readonly consumers: Readonly<Record<string, ConsumerObservation>>;
  readonly cid?: CidObservation;
  /** `<aggregate domain>/<aggregate>/<leaf domain>` → whether the hub's last sourced sequence is still the leaf's event (rewind.ts). */
  readonly rewinds?: Readonly<Record<string, RewindFinding | { readonly error: string }>>;
};

/** Sources must have been in contact within this (ns): the sourcing consumer hears from its leaf every few seconds. */
export const SOURCE_ACTIVE_LIMIT_NS = 30e9;

/** Monitoring on another machine's loopback: unreachable from here by design (a dev server's loopback is this machine's). */
function remoteLoopback(s: ServerRef): boolean {
  return s.monitoringScope === "host" && !/^127\./.test(new URL(s.clientUrl.replace(/^nats:/, "http:")).hostname);
}

export function serversOf(o: VerifyOutputs): ServerRef[] {
  // Hub members' names: `<host>-hub` where a leaf shares the host; else the durability output's (host order).
  const hubNames = (o.durability ?? []).filter((d) => d.kind === "hub").map((d) => d.server);
  const hub = o.hub.clientUrls.map((clientUrl, i) => {
    const host = new URL(clientUrl.replace(/^nats:/, "http:")).hostname;
    const leaf = Object.entries(o.leaves).find(([, l]) => new URL(l.clientUrl.replace(/^nats:/, "http:")).hostname === host);
    return { server: leaf ? `${leaf[1].host}-hub` : (hubNames[i] ?? `hub-${i + 1}`), kind: "hub" as const, domain: o.hub.jetstreamDomain, clientUrl, monitoringUrl: o.hub.monitoringUrls[i], monitoringScope: o.hub.monitoringScopes?.[i] };
  });
  const leaves = Object.entries(o.leaves).map(([server, l]) => ({ server, kind: "leaf" as const, domain: l.jetstreamDomain, clientUrl: l.clientUrl, monitoringUrl: l.monitoringUrl, monitoringScope: l.monitoringScope }));
  return [...leaves, ...hub];
}

const ok = (detail = ""): Cell => ({ status: "ok", detail });
const fail = (detail: string): Cell => ({ status: "fail", detail });
const na: Cell = { status: "n/a", detail: "" };

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return JSON.stringify([...(a ?? [])].sort()) === JSON.stringify([...(b ?? [])].sort());
}

/** Differences between a declared config and the live one, as `key: declared X, live Y`. */
function configDiff(declared: Record<string, unknown>, live: Record<string, unknown> | undefined): string[] {
  const out: string[] = [];
  for (const [k, want] of Object.entries(declared)) {
    const got = live?.[k];
    const same = Array.isArray(want) ? sameList(want as string[], got as string[]) : want === got;
    if (!same) out.push(`${k}: declared ${JSON.stringify(want)}, live ${JSON.stringify(got)}`);
  }
  return out;
}

function streamCell(domainStreams: readonly DeclaredStream[], obs: Observations, hint: string): Cell {
  if (domainStreams.length === 0) return na;
  const problems: string[] = [];
  for (const d of domainStreams) {
    const o = obs.streams[`${d.domain}/${d.stream}`];
    const what = d.kind === "stream" || d.kind === "aggregate" ? `stream ${d.stream}` : `${d.kind === "kv" ? "kv bucket" : "object bucket"} ${d.name} (${d.stream})`;
    if (!o || o.error) {
      problems.push(/not found/i.test(o?.error ?? "") ? `${what} is missing in domain ${d.domain}: ${hint}` : `${what}: ${o?.error ?? "not asked"}`);
      continue;
    }
    const diff = configDiff(d.config as Record<string, unknown>, o.config as Record<string, unknown>);
    if (diff.length) problems.push(`${what} differs from its declaration (${diff.join("; ")}): ${hint}`);
  }
  return problems.length ? fail(problems.join(" | ")) : ok(`${domainStreams.length} present as declared`);
}

function consumerCell(domainConsumers: readonly DeclaredConsumer[], obs: Observations, hint: string): Cell {
  if (domainConsumers.length === 0) return na;
  const problems: string[] = [];
  for (const c of domainConsumers) {
    const o = obs.consumers[`${c.domain}/${c.stream}/${c.name}`];
    if (!o || o.error) {
      problems.push(/not found/i.test(o?.error ?? "") ? `consumer ${c.stream}/${c.name} is missing in domain ${c.domain}: ${hint}` : `consumer ${c.stream}/${c.name}: ${o?.error ?? "not asked"}`);
      continue;
    }
    const live = { ...o.config, filter_subjects: o.config?.filter_subjects ?? (o.config?.filter_subject ? [o.config.filter_subject] : undefined) };
    const diff = configDiff(c.config as Record<string, unknown>, live);
    if (diff.length) problems.push(`consumer ${c.stream}/${c.name} differs from its declaration (${diff.join("; ")}): ${hint}`);
  }
  return problems.length ? fail(problems.join(" | ")) : ok(`${domainConsumers.length} present as declared`);
}

/** The leaf domain of a source's API prefix (`$JS.<domain>.API`). */
export const sourceLeaf = (api: string) => /^\$JS\.(.+)\.API$/.exec(api)?.[1] ?? api;

/** The key of an aggregate source's sequence finding in Observations.rewinds. */
export const rewindKey = (aggregateDomain: string, aggregate: string, leafDomain: string) => `${aggregateDomain}/${aggregate}/${leafDomain}`;

/**
 * Every aggregate source's lag, last activity and sequence consistency with its leaf; what still
 * lags, went silent or was rewound is a failure. A rewind names the `rewinds` entry that repairs it.
 */
export function sourceProblems(declared: readonly DeclaredStream[], obs: Observations): string[] {
  const problems: string[] = [];
  for (const a of declared.filter((d) => d.kind === "aggregate")) {
    const o = obs.streams[`${a.domain}/${a.stream}`];
    if (!o || o.error) {
      problems.push(`aggregate ${a.stream}: ${o?.error ?? "not asked"}`);
      continue;
    }
    for (const s of a.sources ?? []) {
      const live = o.sources?.find((x) => x.name === s.name && (x.external?.api ?? "") === s.api);
      const leaf = sourceLeaf(s.api);
      const rewind = obs.rewinds?.[rewindKey(a.domain, a.stream, leaf)];
      if (!live) problems.push(`aggregate ${a.stream} has no source ${s.name} from ${leaf}: run pulumi up`);
      else if (rewind && "status" in rewind && rewind.status === "rewound") {
        const where = `the \`rewinds\` of aggregate ${a.stream} (jetstream.streams, stream ${s.name}, \`aggregate\`)`;
        const repair = rewind.fix === "drop-rewinds" ? `remove the entries of domain ${leaf} from ${where}` : `add { domain: ${leaf}, fromSeq: ${rewind.resumeAt} } to ${where}`;
        problems.push(`aggregate ${a.stream}: source ${s.name}@${leaf} is rewound: ${rewind.detail}. Repair: ${repair} and run pulumi up (docs/durability.md, "Sequence rewind")`);
      } else if (live.active < 0 || live.active > SOURCE_ACTIVE_LIMIT_NS) {
        problems.push(`aggregate ${a.stream}: source ${s.name}@${leaf} ${live.active < 0 ? "never active" : `last active ${Math.round(live.active / 1e9)} s ago`} (lag ${live.lag}): is leaf ${leaf} up and linked to the hub?`);
      } else if (live.lag > 0) problems.push(`aggregate ${a.stream}: source ${s.name}@${leaf} lags ${live.lag} messages`);
    }
  }
  return problems;
}

/** Every declared aggregate source, for the durability picture. */
function sourceLines(declared: readonly DeclaredStream[], obs: Observations): SourceLine[] {
  return declared
    .filter((d) => d.kind === "aggregate")
    .flatMap((a) =>
      (a.sources ?? []).map((s) => {
        const leaf = sourceLeaf(s.api);
        const live = obs.streams[`${a.domain}/${a.stream}`]?.sources?.find((x) => x.name === s.name && (x.external?.api ?? "") === s.api);
        const r = obs.rewinds?.[rewindKey(a.domain, a.stream, leaf)];
        const sequence = !r ? "not checked" : "error" in r ? `not checked: ${r.error}` : r.status === "rewound" ? `REWOUND: ${r.detail}` : r.status === "unchecked" ? `not checked: ${r.detail}` : "consistent";
        const leafLast = r && "leafLast" in r ? r.leafLast : obs.streams[`${leaf}/${s.name}`]?.state?.last_seq;
        return { aggregate: a.stream, source: s.name, leaf, lag: live?.lag, hubSeq: live ? (live.seq ?? 0) : undefined, leafLast, sequence };
      }),
    );
}

/**
 * Each hub stream's replica on this member against its leader's (both from their own /jsz): a
 * store damaged on one member (a flipped byte, a truncated block) can come back with other
 * counts than its peers (seen: 3,001 messages with last seq 3,000). A replica still catching up
 * differs for a moment too: the probe looks again before it reports (probe.ts).
 */
export function replicaProblems(server: string, obs: Observations): string[] {
  // Streams by account: two accounts may hold streams of the same name.
  const replicasOf = (s: string) => (obs.servers[s]?.jsz?.account_details ?? []).flatMap((a) => (a.stream_detail ?? []).map((r) => ({ account: a.name ?? "", r })));
  const problems: string[] = [];
  const span = (st: NonNullable<ReplicaObservation["state"]>) => `${st.messages} messages (seq ${st.first_seq}–${st.last_seq})`;
  for (const { account, r } of replicasOf(server)) {
    const leader = r.cluster?.leader;
    if (!r.state) continue;
    const impossible = r.state.last_seq >= r.state.first_seq && r.state.messages > r.state.last_seq - r.state.first_seq + 1;
    const theirs = leader && leader !== server ? replicasOf(leader).find((x) => x.account === account && x.r.name === r.name)?.r.state : undefined;
    const differs = theirs && (theirs.messages !== r.state.messages || theirs.first_seq !== r.state.first_seq || theirs.last_seq !== r.state.last_seq);
    if (impossible || differs) {
      problems.push(
        `stream ${r.name}: this replica holds ${span(r.state)}${theirs ? `, its leader ${leader} ${span(theirs)}` : ""}: its store is damaged or behind; ` +
          `if it stays so, rebuild it from its peers: stop ${server}, remove the stream's folder from its store (jetstream/<account>/streams/${r.name}), start it (docs/durability.md, "Faults, measured")`,
      );
    }
  }
  return problems;
}

/** A server's sync mode as /varz reports it: `always`, or its interval as the config would spell it. */
export function runningSync(config: { readonly sync_interval?: number; readonly sync_always?: boolean } | undefined): string | undefined {
  if (!config) return undefined;
  if (config.sync_always) return "always";
  const ns = config.sync_interval ?? 120e9; // nats-server's default when unset
  for (const [unit, size] of [["h", 3600e9], ["m", 60e9], ["s", 1e9], ["ms", 1e6]] as const) if (ns % size === 0) return `${ns / size}${unit}`;
  return `${ns}ns`;
}

/** The durability cell: the running sync mode (and its loss window) against the declared one. */
function durabilityCell(running: string | undefined, declared: string | undefined): Cell {
  if (running === undefined) return fail("/varz has no JetStream config: is JetStream enabled?");
  const same = declared === undefined || declared === running || (declared !== "always" && running !== "always" && parseDurationNanos(declared) === parseDurationNanos(running));
  if (!same) {
    return fail(
      `runs sync_interval ${running}, declared ${declared}: restart it to apply (nats-server does not reload sync_interval; docs/changes.md) — until then ${lossWindow(running).text}`,
    );
  }
  return ok(lossWindow(running).text);
}

/** The `iat` of a JWT (seconds), or undefined when it does not decode. */
function issuedAt(jwt: string): number | undefined {
  try {
    return (JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8")) as { iat?: number }).iat;
  } catch {
    return undefined;
  }
}

/**
 * Whether this server enforces the current JWT of every account it has loaded (a pushed JWT that
 * did not arrive leaves a server on older permissions, or on the bootstrap JWT). An account no
 * client or link uses here is not loaded: the server reads it from its resolver store at first
 * use, which resolver sync keeps current (`interval`), so that is no failure.
 */
export function accountsCell(o: ServerObservation, accounts: VerifyOutputs["accounts"]): Cell {
  if (!accounts || !o.accounts) return na;
  const problems: string[] = [];
  let current = 0;
  for (const [name, want] of Object.entries(accounts)) {
    const got = o.accounts[name];
    if (!got?.jwt) continue;
    if (got.jwt === want.jwt) {
      current++;
      continue;
    }
    const [have, should] = [issuedAt(got.jwt), issuedAt(want.jwt)];
    // Either way a re-issue repairs it: a replaced JWT gets a newer iat than any before, and newer wins everywhere.
    const reissue = `re-issue the stack's: pulumi up --replace <URN of security-account-${name}-jwt> (pulumi stack --show-urns)`;
    problems.push(
      (have ?? 0) < (should ?? 0)
        ? `enforces an older JWT of account ${name} (iat ${have}${have === 1 ? ", the bootstrap JWT" : ""}; the stack's iat ${should}): its push did not arrive; a linked server fetches it from its peers within seconds (resolver interval 5s); if it stays, ${reissue}`
        : `enforces a JWT of account ${name} the stack did not issue (iat ${have}, the stack's iat ${should}): signed with the operator's key elsewhere (nsc?); ${reissue}`,
    );
  }
  const idle = Object.keys(accounts).length - current - problems.length;
  return problems.length ? fail(problems.join(" | ")) : ok(`${current} current${idle ? `, ${idle} not loaded` : ""}`);
}

/**
 * JetStream meta group, as its leader sees it: only the leader tracks whether its peers are
 * current (a follower's /jsz lists its peers as not current), so a member passes when a leader
 * exists and the leader's /jsz has it current and online; the leader passes when every peer is.
 */
function metaCell(server: string, members: readonly string[], obs: Observations): Cell {
  const leader = obs.servers[server]?.jsz?.meta_cluster?.leader;
  if (!leader) return fail(`no JetStream meta leader: a quorum of ${members.join(", ")} must be up and routed`);
  const view = obs.servers[leader]?.jsz?.meta_cluster;
  if (!view) return fail(`meta leader ${leader} does not answer /jsz`);
  const size = view.cluster_size ?? 0;
  if (size !== members.length) return fail(`meta cluster size ${size} (leader ${leader}), declared ${members.length} members`);
  const state = (r: { current?: boolean; offline?: boolean }) => (r.offline ? "offline" : r.current ? "" : "not current");
  if (leader === server) {
    const bad = (view.replicas ?? []).filter((r) => state(r)).map((r) => `${r.name} ${state(r)}`);
    return bad.length ? fail(`meta leader here; peers ${bad.join(", ")}`) : ok("leader");
  }
  const me = (view.replicas ?? []).find((r) => r.name === server);
  if (!me) return fail(`meta leader ${leader} does not list ${server} as a peer`);
  return state(me) ? fail(`${state(me)} in meta leader ${leader}'s view`) : ok(`current (leader ${leader})`);
}

/** The report: one row per server, a cell per check. `hints.logOf(server)` names where to look. */
export function evaluate(
  outputs: VerifyOutputs,
  obs: Observations,
  hints: { readonly logOf: (server: string) => string; readonly cidLog: string; readonly up: string; readonly start?: string },
): VerifyReport {
  const declared = outputs.declared ?? { streams: [], consumers: [] };
  const servers = serversOf(outputs);
  const members = servers.filter((s) => s.kind === "hub");
  const memberNames = members.map((m) => m.server);
  const sourceIssues = sourceProblems(declared.streams, obs);
  const rows: Row[] = servers.map((s) => {
    const o = obs.servers[s.server] ?? {};
    const cells: Record<CheckName, Cell> = {} as Record<CheckName, Cell>;
    const down = o.varzError !== undefined;
    cells.reachable = !down
      ? ok()
      : remoteLoopback(s)
        ? fail(`${s.monitoringUrl} does not answer (${o.varzError}): its monitoring listens on loopback, so it answers on its own host only: run verify there or through an SSH tunnel (ssh -L), or set topology.monitoring.listen: host`)
        : fail(`${s.monitoringUrl} does not answer (${o.varzError}): is nats-server running? see ${hints.logOf(s.server)}${hints.start ? ` (${hints.start})` : ""}`);
    cells.healthz = down
      ? fail("not reachable")
      : o.healthz?.status === 200
        ? ok()
        : fail(`/healthz answered ${o.healthz?.status ?? "nothing"} ${(o.healthz?.body ?? o.healthzError ?? "").trim()}: JetStream is not healthy here; see ${hints.logOf(s.server)}`);
    const name = o.varz?.server_name;
    const domain = o.varz?.jetstream?.config?.domain ?? "";
    cells.identity = down ? fail("not reachable") : name === s.server && domain === s.domain ? ok(`${name}/${domain}`) : fail(`runs as server '${name}' domain '${domain}', declared '${s.server}' domain '${s.domain}': another server answers at ${s.monitoringUrl}?`);
    if (s.kind === "hub") {
      const expected = memberNames.filter((m) => m !== s.server);
      const missing = expected.filter((m) => !(o.routePeers ?? []).includes(m));
      cells.routes = down ? fail("not reachable") : missing.length === 0 ? ok(`${expected.length} peers`) : fail(`no route to ${missing.join(", ")} (routed: ${(o.routePeers ?? []).join(", ") || "none"})`);
      cells.leafnode = na;
      // A hub of one member runs without a cluster block (render/nats-server-config.ts): no meta group.
      cells.meta = memberNames.length < 2 ? na : down ? fail("not reachable") : metaCell(s.server, memberNames, obs);
      cells.cid = na;
    } else {
      cells.routes = na;
      cells.leafnode = down ? fail("not reachable") : (o.leafnodes ?? []).length > 0 ? ok(`${o.leafnodes!.length} link(s)`) : fail(`no leafnode link to the hub: check the leaf's remotes and ${hints.logOf(s.server)}`);
      cells.meta = na;
      const cid = outputs.cidService;
      if (!cid || cid.leaf !== s.server) cells.cid = na;
      else if (obs.cid?.error) cells.cid = fail(`CID service does not answer on ${cid.subjectPrefix}.put/get at ${cid.clientUrl}: ${obs.cid.error}${obs.cid.health ? ` (health: ${obs.cid.health})` : ""}; see ${hints.cidLog}`);
      else cells.cid = ok(obs.cid?.putCid ? `put/get ${obs.cid.putCid.slice(0, 16)}…` : "");
    }
    cells.accounts = down ? fail("not reachable") : accountsCell(o, outputs.accounts);
    const declaredSync = outputs.durability?.find((d) => d.server === s.server)?.syncInterval;
    cells.durability = down ? fail("not reachable") : durabilityCell(runningSync(o.varz?.jetstream?.config), declaredSync);
    cells.streams = streamCell(declared.streams.filter((d) => d.domain === s.domain && d.servers.includes(s.server)), obs, hints.up);
    const replicaIssues = s.kind === "hub" && !down ? replicaProblems(s.server, obs) : [];
    cells.replicas = s.kind !== "hub" || memberNames.length < 2 ? na : down ? fail("not reachable") : replicaIssues.length ? fail(replicaIssues.join(" | ")) : ok();
    cells.consumers = consumerCell(declared.consumers.filter((c) => c.domain === s.domain && c.servers.includes(s.server)), obs, hints.up);
    const hasAggregates = declared.streams.some((d) => d.kind === "aggregate" && d.domain === s.domain);
    cells.sources = !hasAggregates || s.kind !== "hub" ? na : sourceIssues.length ? fail(sourceIssues.join(" | ")) : ok();
    return { server: s.server, kind: s.kind, cells };
  });
  const failures: Failure[] = [];
  let passed = 0;
  let total = 0;
  for (const r of rows) {
    for (const c of CHECKS) {
      const cell = r.cells[c];
      if (cell.status === "n/a") continue;
      total++;
      if (cell.status === "ok") passed++;
      // "not reachable" repeats the reachable failure: listed once.
      else if (cell.detail !== "not reachable") failures.push({ server: r.server, check: c, message: cell.detail });
    }
  }
  const durabilityServers = servers.map((s) => {
    const running = runningSync(obs.servers[s.server]?.varz?.jetstream?.config);
    const declaredSync = outputs.durability?.find((d) => d.server === s.server)?.syncInterval;
    return { server: s.server, running: running ?? "unknown", ...(declaredSync ? { declared: declaredSync } : {}), lossWindow: running ? lossWindow(running).text : "unknown: /varz did not answer" };
  });
  return { stack: outputs.stack, rows, failures, passed, total, durability: { servers: durabilityServers, sources: sourceLines(declared.streams, obs) } };
}

/** The table (server × check), the failures with what to look at, and the summary line. */
export function renderReport(report: VerifyReport): string {
  const header = ["server", ...CHECKS];
  const mark = (c: Cell) => (c.status === "ok" ? "ok" : c.status === "fail" ? "FAIL" : "-");
  const lines = [header, ...report.rows.map((r) => [r.server, ...CHECKS.map((c) => mark(r.cells[c]))])];
  const widths = header.map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  const out = lines.map((l) => l.map((v, i) => v.padEnd(widths[i])).join("  ").trimEnd());
  out.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  out.push("", "Durability (what a power failure can lose):");
  for (const d of report.durability.servers) out.push(`  ${d.server}: ${d.lossWindow}${d.declared && d.declared !== d.running ? ` [declared ${d.declared}]` : ""}`);
  for (const src of report.durability.sources) {
    out.push(`  ${src.aggregate} <- ${src.source}@${src.leaf}: lag ${src.lag ?? "?"}, hub at leaf seq ${src.hubSeq ?? "?"}, leaf ends at ${src.leafLast ?? "?"}: ${src.sequence}`);
  }
  if (report.failures.length) {
    out.push("", "What to look at:");
    for (const f of report.failures) out.push(`  ${f.server}: ${f.check}: ${f.message}`);
  }
  const failedChecks = report.total - report.passed;
  out.push(
    "",
    failedChecks === 0
      ? `stack ${report.stack}: all ${report.total} checks passed on ${report.rows.length} servers`
      : `stack ${report.stack}: ${failedChecks} of ${report.total} checks FAILED on ${new Set(report.rows.filter((r) => CHECKS.some((c) => r.cells[c].status === "fail")).map((r) => r.server)).size} of ${report.rows.length} servers`,
  );
  return out.join("\n") + "\n";
}
