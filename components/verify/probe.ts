/**
 * `npm run verify`'s probes (the I/O half; checks.ts judges): each server's monitoring endpoints
 * (/varz, /healthz, /routez, /leafz, /jsz: no credentials needed), each domain's declared
 * streams, buckets and consumers through the JetStream admin's creds, the aggregates' sources
 * (waited for, with progress, while they catch up), and the CID service with a put and a get.
 */
import { createHash } from "node:crypto";
import { credsAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager, type JetStreamManager, type MsgRequest } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { EMPTY_CID, replyError } from "../cid/cid";
import { replicaProblems, rewindKey, serversOf, sourceLeaf, sourceProblems, type ConsumerObservation, type Observations, type ServerObservation, type StreamObservation, type VerifyOutputs } from "./checks";
import { findRewind, parseStreamSource, sourceIndexName, streamIdentity, type Reader, type RewindFinding, type SourceConfig } from "./rewind";
import { natsClientTls } from "../tls/client";
import { epochTransforms, isEpochSpelling } from "../jetstream/aggregate";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function getJson(url: string, timeoutMs: number): Promise<{ status: number; body: string; json?: unknown }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status: res.status, body, json };
}

const message = (e: unknown) => {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  return err.cause?.code ?? err.cause?.message ?? err.message ?? String(e);
};

export async function observeServer(monitoringUrl: string, kind: "leaf" | "hub", timeoutMs = 2_000, accounts: VerifyOutputs["accounts"] = undefined): Promise<ServerObservation> {
  const base = monitoringUrl.replace(/\/+$/, "");
  let varz: ServerObservation["varz"];
  try {
    varz = (await getJson(`${base}/varz`, timeoutMs)).json as ServerObservation["varz"];
  } catch (e) {
    return { varzError: message(e) };
  }
  const out: { -readonly [K in keyof ServerObservation]: ServerObservation[K] } = { varz };
  const [healthz, routez, leafz, jsz] = await Promise.allSettled([
    getJson(`${base}/healthz`, timeoutMs),
    kind === "hub" ? getJson(`${base}/routez`, timeoutMs) : Promise.resolve(undefined),
    kind === "leaf" ? getJson(`${base}/leafz`, timeoutMs) : Promise.resolve(undefined),
    kind === "hub" ? getJson(`${base}/jsz?accounts=true&streams=true`, timeoutMs) : Promise.resolve(undefined),
  ]);
  if (healthz.status === "fulfilled") out.healthz = { status: healthz.value.status, body: healthz.value.body };
  else out.healthzError = message(healthz.reason);
  if (routez.status === "fulfilled" && routez.value) {
    const routes = ((routez.value.json as { routes?: { remote_name?: string }[] })?.routes ?? []).map((r) => r.remote_name ?? "").filter(Boolean);
    out.routePeers = [...new Set(routes)];
  }
  if (leafz.status === "fulfilled" && leafz.value) {
    out.leafnodes = ((leafz.value.json as { leafs?: { name?: string }[] })?.leafs ?? []).map((l) => l.name ?? "?");
  }
  if (jsz.status === "fulfilled" && jsz.value) out.jsz = jsz.value.json as ServerObservation["jsz"];
  if (accounts) {
    // One /accountz per account: its detail carries the JWT this server enforces (400 when not loaded).
    const seen = await Promise.all(
      Object.entries(accounts).map(async ([name, a]) => {
        try {
          const r = await getJson(`${base}/accountz?acc=${encodeURIComponent(a.publicKey)}`, timeoutMs);
          const jwt = (r.json as { account_detail?: { jwt?: string } } | undefined)?.account_detail?.jwt;
          return [name, jwt ? { jwt } : { error: r.body.trim() || `HTTP ${r.status}` }] as const;
        } catch (e) {
          return [name, { error: message(e) }] as const;
        }
      }),
    );
    out.accounts = Object.fromEntries(seen);
  }
  return out;
}

/**
 * What one observe() call connects with and carries between its steps: the admin creds, the
 * stack's CA when its servers require TLS, and the aggregates' live source configs
 * (`<domain>/<stream>`, as the last STREAM.INFO saw them: the rewind check needs their epochs).
 * Per call, not module state: two stacks verified in one process must not read each other's.
 */
type ObserveContext = { readonly creds: string; readonly ca?: string; readonly sourceConfigs: Map<string, readonly SourceConfig[]> };

async function withAdmin<T>(servers: readonly string[], ctx: ObserveContext, use: (nc: NatsConnection, jsm: JetStreamManager) => Promise<T>): Promise<T> {
  const nc = await connect({
    servers: [...servers],
    // No creds: a stack without auth (test topologies).
    ...(ctx.creds ? { authenticator: credsAuthenticator(new TextEncoder().encode(ctx.creds)) } : {}),
    timeout: 3_000,
    maxReconnectAttempts: 0,
    name: "cim-nats-verify",
    ...(ctx.ca ? { tls: natsClientTls(ctx.ca, servers) } : {}),
  });
  try {
    return await use(nc, await jetstreamManager(nc, { timeout: 3_000 }));
  } finally {
    await nc.close().catch(() => {});
  }
}

/** STREAM.INFO of each declared stream and bucket, CONSUMER.INFO of each consumer, per domain. */
async function observeJetStream(outputs: VerifyOutputs, ctx: ObserveContext): Promise<Pick<Observations, "streams" | "consumers">> {
  const declared = outputs.declared ?? { streams: [], consumers: [] };
  const urlsOf = (domain: string) => (domain === outputs.hub.jetstreamDomain ? outputs.hub.clientUrls : Object.values(outputs.leaves).filter((l) => l.jetstreamDomain === domain).map((l) => l.clientUrl));
  const domains = [...new Set([...declared.streams.map((s) => s.domain), ...declared.consumers.map((c) => c.domain)])];
  const streams: Record<string, StreamObservation> = {};
  const consumers: Record<string, ConsumerObservation> = {};
  await Promise.all(
    domains.map(async (domain) => {
      const ss = declared.streams.filter((s) => s.domain === domain);
      const cs = declared.consumers.filter((c) => c.domain === domain);
      try {
        await withAdmin(urlsOf(domain), ctx, async (_nc, jsm) => {
          for (const s of ss) {
            try {
              const info = await jsm.streams.info(s.stream);
              streams[`${domain}/${s.stream}`] = {
                config: info.config as StreamObservation["config"],
                sources: (info.sources ?? []) as StreamObservation["sources"],
                state: { first_seq: info.state.first_seq, last_seq: info.state.last_seq, messages: info.state.messages },
                created: info.created,
              };
              ctx.sourceConfigs.set(`${domain}/${s.stream}`, (info.config.sources ?? []) as SourceConfig[]);
            } catch (e) {
              streams[`${domain}/${s.stream}`] = { error: message(e) };
            }
          }
          for (const c of cs) {
            try {
              consumers[`${domain}/${c.stream}/${c.name}`] = { config: (await jsm.consumers.info(c.stream, c.name)).config as ConsumerObservation["config"] };
            } catch (e) {
              consumers[`${domain}/${c.stream}/${c.name}`] = { error: message(e) };
            }
          }
        });
      } catch (e) {
        const why = `cannot reach domain ${domain} at ${urlsOf(domain).join(", ")} (${message(e)})`;
        for (const s of ss) streams[`${domain}/${s.stream}`] ??= { error: why };
        for (const c of cs) consumers[`${domain}/${c.stream}/${c.name}`] ??= { error: why };
      }
    }),
  );
  return { streams, consumers };
}

async function observeCid(outputs: VerifyOutputs, ctx: ObserveContext): Promise<Observations["cid"]> {
  const cid = outputs.cidService;
  if (!cid) return undefined;
  let health: string | undefined;
  try {
    const h = await getJson(cid.healthUrl, 2_000);
    health = `${cid.healthUrl} ${h.status}`;
  } catch (e) {
    health = `${cid.healthUrl} ${message(e)}`;
  }
  try {
    return await withAdmin([cid.clientUrl], ctx, async (nc) => {
      const put = await nc.request(`${cid.subjectPrefix}.put`, new Uint8Array(0), { timeout: 3_000 });
      const perr = replyError(put.headers);
      if (perr) return { error: `put answered ${perr.code} ${perr.message}`, health };
      if (put.string() !== EMPTY_CID) return { error: `put of 0 bytes answered '${put.string()}', expected ${EMPTY_CID}`, health };
      const get = await nc.request(`${cid.subjectPrefix}.get.${EMPTY_CID}`, new Uint8Array(0), { timeout: 3_000 });
      const gerr = replyError(get.headers);
      if (gerr) return { error: `get answered ${gerr.code} ${gerr.message}`, health };
      return { putCid: put.string(), getBytes: get.data.length, health };
    });
  } catch (e) {
    const m = message(e);
    return { error: /no responders|503/i.test(m) ? "no responders: the CID service is not running (or not subscribed)" : /timeout/i.test(m) ? "no reply within 3 s" : m, health };
  }
}

const sha256 = (v: string) => createHash("sha256").update(v).digest();

/** A repaired source's earlier epochs (aggregate.ts): the plain source, then epochs 1..n-1. */
function priorEpochs(c: SourceConfig): SourceConfig[] {
  const transforms = c.subject_transforms?.map((t) => ({ src: t.src, dest: t.dest ?? "" }));
  if (!transforms || !isEpochSpelling(transforms)) return [];
  const { subject_transforms: _, opt_start_seq: __, ...plain } = c;
  return [plain, ...Array.from({ length: transforms.length - 2 }, (_x, i) => ({ ...plain, subject_transforms: epochTransforms(i + 1) }))];
}

/** A Reader over one stream: the first message at or after a sequence, with the headers the rewind check compares. */
function reader(jsm: JetStreamManager, stream: string): Reader {
  return async (seq) => {
    let m;
    try {
      // STREAM.MSG.GET takes next_by_subj (the first message at or after seq); nats.js types it for direct gets only.
      m = await jsm.streams.getMessage(stream, { seq, next_by_subj: ">" } as unknown as MsgRequest);
    } catch (e) {
      if (/no message found|not found/i.test((e as Error).message)) return undefined;
      throw e;
    }
    if (!m) return undefined;
    return { seq: m.seq, subject: m.subject, data: m.data, msgId: m.header?.get("Nats-Msg-Id") || undefined, source: parseStreamSource(m.header?.get("Nats-Stream-Source") || undefined) };
  };
}

/**
 * Per aggregate source: is the event the hub stored for its last sourced leaf sequence still the
 * leaf's event there (rewind.ts)? Sources with nothing sourced yet, or whose leaf stream is not
 * observed, are left out.
 */
async function observeRewinds(outputs: VerifyOutputs, ctx: ObserveContext, streams: Readonly<Record<string, StreamObservation>>): Promise<NonNullable<Observations["rewinds"]>> {
  const out: Record<string, RewindFinding | { error: string }> = {};
  const urlsOf = (domain: string) => (domain === outputs.hub.jetstreamDomain ? outputs.hub.clientUrls : Object.values(outputs.leaves).filter((l) => l.jetstreamDomain === domain).map((l) => l.clientUrl));
  for (const a of (outputs.declared?.streams ?? []).filter((d) => d.kind === "aggregate")) {
    const agg = streams[`${a.domain}/${a.stream}`];
    if (!agg?.state) continue;
    for (const s of a.sources ?? []) {
      const leaf = sourceLeaf(s.api);
      const live = agg.sources?.find((x) => x.name === s.name && (x.external?.api ?? "") === s.api);
      const leafState = streams[`${leaf}/${s.name}`]?.state;
      const leafCreated = streams[`${leaf}/${s.name}`]?.created;
      const config = ctx.sourceConfigs.get(`${a.domain}/${a.stream}`)?.find((c) => c.name === s.name && (c.external?.api ?? "") === s.api);
      if (!live || !leafState || !config) continue;
      try {
        out[rewindKey(a.domain, a.stream, leaf)] = await withAdmin(urlsOf(a.domain), ctx, (_hn, hubJsm) =>
          withAdmin(urlsOf(leaf), ctx, (_ln, leafJsm) =>
            findRewind({
              indexName: sourceIndexName(config, sha256),
              ...(leafCreated ? { ident: streamIdentity(leafCreated, sha256) } : {}),
              hubSeq: live.seq ?? 0,
              startSeq: config.opt_start_seq,
              priorIndexNames: priorEpochs(config).map((c) => sourceIndexName(c, sha256)),
              leaf: { first: leafState.first_seq, last: leafState.last_seq, read: reader(leafJsm, s.name) },
              aggregate: { first: agg.state!.first_seq, last: agg.state!.last_seq, read: reader(hubJsm, a.stream) },
            }),
          ),
        );
      } catch (e) {
        out[rewindKey(a.domain, a.stream, leaf)] = { error: message(e) };
      }
    }
  }
  return out;
}

/**
 * Everything verify looks at. `progress` gets a line for each check that waits (aggregate
 * sources catching up, up to `sourceWaitMs`).
 */
export async function observe(outputs: VerifyOutputs, options: { readonly progress?: (line: string) => void; readonly sourceWaitMs?: number } = {}): Promise<Observations> {
  const ctx: ObserveContext = { creds: outputs.jetstreamAdminCreds ?? "", ...(outputs.tls?.caCert ? { ca: outputs.tls.caCert } : {}), sourceConfigs: new Map() };
  const progress = options.progress ?? (() => {});
  const refs = serversOf(outputs);
  progress(`probing ${refs.length} servers…`);
  let serverObs = await Promise.all(refs.map(async (r) => [r.server, await observeServer(r.monitoringUrl, r.kind, undefined, outputs.accounts)] as const));
  progress("asking each domain for its streams, buckets and consumers…");
  let js = await observeJetStream(outputs, ctx);
  const cid = await observeCid(outputs, ctx);
  const deadline = Date.now() + (options.sourceWaitMs ?? 15_000);
  const declared = outputs.declared?.streams ?? [];
  const hubMembers = refs.filter((r) => r.kind === "hub");
  for (;;) {
    const servers = Object.fromEntries(serverObs);
    const problems = [
      ...sourceProblems(declared, { servers: {}, streams: js.streams, consumers: js.consumers }),
      ...hubMembers.flatMap((m) => replicaProblems(m.server, { servers, streams: {}, consumers: {} }).map((p) => `${m.server}: ${p}`)),
    ];
    if (problems.length === 0 || Date.now() >= deadline) break;
    progress(`waiting for aggregate sources and replicas (${Math.ceil((deadline - Date.now()) / 1000)} s left): ${problems[0]}`);
    await sleep(1_000);
    js = await observeJetStream(outputs, ctx);
    serverObs = await Promise.all(refs.map(async (r) => [r.server, await observeServer(r.monitoringUrl, r.kind, undefined, outputs.accounts)] as const));
  }
  progress("comparing each aggregate source's last sequence with its leaf's stream…");
  const rewinds = await observeRewinds(outputs, ctx, js.streams);
  return { servers: Object.fromEntries(serverObs), ...js, rewinds, ...(cid ? { cid } : {}) };
}
