/**
 * verify's verdicts from observations (pure): a healthy picture passes; each failure names the
 * server, the check and what to look at. The same cases against the real dev stack are in
 * test/e2e/cid-verify.test.ts.
 */
import { describe, expect, it } from "vitest";
import { evaluate, renderReport, type Observations, type ServerObservation, type VerifyOutputs } from "../../components/verify/checks";

const outputs: VerifyOutputs = {
  stack: "t",
  leaves: {
    "nats-1": { host: "nats-1", clientUrl: "nats://10.0.0.41:4222", monitoringUrl: "http://10.0.0.41:8222", jetstreamDomain: "nats-1" },
    cimstor: { host: "cimstor", clientUrl: "nats://10.0.0.2:4222", monitoringUrl: "http://10.0.0.2:8222", jetstreamDomain: "cimstor" },
  },
  hub: {
    cluster: "hub",
    jetstreamDomain: "hub",
    clientUrls: ["nats://10.0.1.41:4223", "nats://10.0.1.42:4223", "nats://10.0.1.43:4223"],
    monitoringUrls: ["http://10.0.1.41:8223", "http://10.0.1.42:8223", "http://10.0.1.43:8223"],
  },
  declared: {
    streams: [
      { kind: "stream", name: "E", stream: "E", domain: "nats-1", servers: ["nats-1"], config: { subjects: ["e.>"], num_replicas: 1 } },
      { kind: "aggregate", name: "AGG", stream: "AGG", domain: "hub", servers: ["hub-1", "hub-2", "hub-3"], config: { num_replicas: 3 }, sources: [{ name: "E", api: "$JS.nats-1.API" }] },
    ],
    consumers: [],
  },
  cidService: { leaf: "cimstor", clientUrl: "nats://10.0.0.2:4222", subjectPrefix: "cimstor.objects", bucket: "CLUSTER_OBJECTS", healthUrl: "http://10.0.0.2:8290/healthz" },
  durability: ["nats-1", "cimstor", "hub-1", "hub-2", "hub-3"].map((server) => ({ server, kind: server.startsWith("hub") ? "hub" : "leaf", syncInterval: server === "cimstor" ? "1s" : "always", lossWindow: "" })),
};
/** /varz's JetStream config of a server at `always` (nats-server keeps its 2m timer) or at an interval. */
const ALWAYS = { sync_interval: 120e9, sync_always: true };
const EVERY_SECOND = { sync_interval: 1e9 };
const members = ["hub-1", "hub-2", "hub-3"];
const hints = { logOf: (s: string) => `${s}.log`, cidLog: "cid.log", up: "run pulumi up" };

function member(name: string, leader = "hub-1"): ServerObservation {
  const peers = members.filter((m) => m !== name);
  return {
    varz: { server_name: name, jetstream: { config: { domain: "hub", ...ALWAYS } } },
    healthz: { status: 200, body: "{}" },
    routePeers: peers,
    jsz: { meta_cluster: { leader, cluster_size: 3, replicas: members.filter((m) => m !== leader).map((m) => ({ name: m, current: name === leader, offline: false })) } },
  };
}
const leaf = (name: string): ServerObservation => ({
  varz: { server_name: name, jetstream: { config: { domain: name, ...(name === "cimstor" ? EVERY_SECOND : ALWAYS) } } },
  healthz: { status: 200, body: "{}" },
  leafnodes: ["hub-1"],
});

function healthy(): Observations {
  return {
    servers: { "hub-1": member("hub-1"), "hub-2": member("hub-2"), "hub-3": member("hub-3"), "nats-1": leaf("nats-1"), cimstor: leaf("cimstor") },
    streams: {
      "nats-1/E": { config: { subjects: ["e.>"], num_replicas: 1 }, state: { first_seq: 1, last_seq: 500, messages: 500 } },
      "hub/AGG": { config: { num_replicas: 3 }, sources: [{ name: "E", external: { api: "$JS.nats-1.API" }, lag: 0, active: 1e9, seq: 500 }], state: { first_seq: 1, last_seq: 500, messages: 500 } },
    },
    consumers: {},
    cid: { putCid: "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", getBytes: 0 },
    rewinds: { "hub/AGG/nats-1": { status: "consistent", hubSeq: 500, leafLast: 500, detail: "leaf seq 500 is the event the hub stored" } },
  };
}
const failures = (o: Observations) => evaluate(outputs, o, hints).failures.map((f) => `${f.server}: ${f.check}: ${f.message}`);

describe("verify's checks", () => {
  it("a healthy picture passes every check (followers' /jsz listing peers as not current is not a failure)", () => {
    const report = evaluate(outputs, healthy(), hints);
    expect(report.failures).toEqual([]);
    expect(renderReport(report)).toContain("all 39 checks passed on 5 servers");
  });

  it("a hub of one member (no cluster block, so no meta group) passes: meta and replicas do not apply", () => {
    const solo: VerifyOutputs = {
      ...outputs,
      hub: { ...outputs.hub, clientUrls: outputs.hub.clientUrls.slice(0, 1), monitoringUrls: outputs.hub.monitoringUrls.slice(0, 1) },
      declared: { streams: [{ ...outputs.declared!.streams[0] }, { ...outputs.declared!.streams[1], servers: ["hub-1"], config: { num_replicas: 1 } }], consumers: [] },
      durability: outputs.durability!.filter((d) => !["hub-2", "hub-3"].includes(d.server)),
    };
    const o = healthy();
    const servers = { ...o.servers, "hub-1": { ...o.servers["hub-1"], routePeers: [], jsz: {} } };
    delete (servers as Record<string, unknown>)["hub-2"];
    delete (servers as Record<string, unknown>)["hub-3"];
    const streams = { ...o.streams, "hub/AGG": { ...o.streams["hub/AGG"], config: { num_replicas: 1 } } };
    const report = evaluate(solo, { ...o, servers, streams }, hints);
    expect(report.failures).toEqual([]);
    const hub = report.rows.find((r) => r.server === "hub-1")!;
    expect([hub.cells.meta.status, hub.cells.replicas.status]).toEqual(["n/a", "n/a"]);
  });

  it("states every server's sync mode and loss window, and each source's lag and sequence consistency", () => {
    const text = renderReport(evaluate(outputs, healthy(), hints));
    expect(text).toContain("Durability (what a power failure can lose):");
    expect(text).toContain("  nats-1: always: every acked write is fsynced first; a power failure loses none");
    expect(text).toContain("  cimstor: 1s: a power failure or kernel crash can lose up to 1s of acked writes (opt-in; the default is always)");
    expect(text).toContain("  AGG <- E@nats-1: lag 0, hub at leaf seq 500, leaf ends at 500: consistent");
  });

  it("a server running another sync mode than declared (not restarted yet) fails, naming both and its loss window now", () => {
    const o = healthy();
    const servers = { ...o.servers, "hub-2": { ...member("hub-2"), varz: { server_name: "hub-2", jetstream: { config: { domain: "hub", sync_interval: 120e9 } } } } };
    expect(failures({ ...o, servers })).toEqual([
      "hub-2: durability: runs sync_interval 2m, declared always: restart it to apply (nats-server does not reload sync_interval; docs/changes.md) — until then 2m: a power failure or kernel crash can lose up to 2m of acked writes (opt-in; the default is always)",
    ]);
  });

  it("a hub member whose replica of a stream differs from its leader's fails on its row, naming the stream and the rebuild", () => {
    const o = healthy();
    const detail = (messages: number, leader: string) => [{ name: "PROJ", cluster: { leader }, state: { messages, first_seq: 1, last_seq: 3000 } }];
    const withStreams = (name: string, messages: number) => ({ ...member(name), jsz: { ...member(name).jsz, account_details: [{ name: "APP", stream_detail: detail(messages, "hub-1") }] } });
    const servers = { ...o.servers, "hub-1": withStreams("hub-1", 3000), "hub-2": withStreams("hub-2", 3001), "hub-3": withStreams("hub-3", 3000) };
    expect(failures({ ...o, servers })).toEqual([
      "hub-2: replicas: stream PROJ: this replica holds 3001 messages (seq 1–3000), its leader hub-1 3000 messages (seq 1–3000): its store is damaged or behind; if it stays so, rebuild it from its peers: stop hub-2, remove the stream's folder from its store (jetstream/<account>/streams/PROJ), start it (docs/durability.md, \"Faults, measured\")",
    ]);
  });

  it("a rewound source (the leaf lost its tail) fails on the hub rows with the rewinds entry that repairs it", () => {
    const o = healthy();
    const detail = "the hub sourced up to leaf seq 500, but the leaf's stream ends at 300 (it lost its tail or was restored): 0 leaf events from seq 301 on are not in the aggregate; the next 200 events the leaf acks will be skipped too";
    const rewound = { ...o, rewinds: { "hub/AGG/nats-1": { status: "rewound" as const, hubSeq: 500, leafLast: 300, resumeAt: 301, detail } } };
    const f = failures(rewound);
    expect(f).toHaveLength(3);
    expect(f[0]).toBe(
      `hub-1: sources: aggregate AGG: source E@nats-1 is rewound: ${detail}. Repair: add { domain: nats-1, fromSeq: 301 } to the \`rewinds\` of aggregate AGG (jetstream.streams, stream E, \`aggregate\`) and run pulumi up (docs/durability.md, "Sequence rewind")`,
    );
    expect(renderReport(evaluate(outputs, rewound, hints))).toContain(`AGG <- E@nats-1: lag 0, hub at leaf seq 500, leaf ends at 300: REWOUND: ${detail}`);
  });

  it("a stopped hub member: its row, its peers' routes and the leader's view name it", () => {
    const o = healthy();
    const servers = { ...o.servers, "hub-2": { varzError: "ECONNREFUSED" } } as Record<string, ServerObservation>;
    servers["hub-1"] = { ...member("hub-1"), routePeers: ["hub-3"], jsz: { meta_cluster: { leader: "hub-1", cluster_size: 3, replicas: [{ name: "hub-2", current: false, offline: true }, { name: "hub-3", current: true }] } } };
    servers["hub-3"] = { ...member("hub-3"), routePeers: ["hub-1"] };
    const f = failures({ ...o, servers });
    expect(f).toContain("hub-2: reachable: http://10.0.1.42:8223 does not answer (ECONNREFUSED): is nats-server running? see hub-2.log");
    expect(f).toContain("hub-1: routes: no route to hub-2 (routed: hub-3)");
    expect(f).toContain("hub-1: meta: meta leader here; peers hub-2 offline");
    expect(f).toContain("hub-3: routes: no route to hub-1, hub-2 (routed: hub-1)".replace("hub-1, ", ""));
  });

  it("a loopback-only monitoring URL that does not answer says where it answers, not 'is it running?'", () => {
    const o = healthy();
    const loopback = { ...outputs, leaves: { ...outputs.leaves, "nats-1": { ...outputs.leaves["nats-1"], monitoringUrl: "http://127.0.0.1:8222", monitoringScope: "host" as const } } };
    const f = evaluate(loopback, { ...o, servers: { ...o.servers, "nats-1": { varzError: "ECONNREFUSED" } } }, hints).failures.map((x) => `${x.server}: ${x.check}: ${x.message}`);
    expect(f).toContain(
      "nats-1: reachable: http://127.0.0.1:8222 does not answer (ECONNREFUSED): its monitoring listens on loopback, so it answers on its own host only: run verify there or through an SSH tunnel (ssh -L), or set topology.monitoring.listen: host",
    );
    // A dev server (its client URL on this machine's loopback) keeps the "is it running?" hint.
    const dev = { ...outputs, leaves: { "nats-1": { ...outputs.leaves["nats-1"], clientUrl: "nats://127.0.0.41:4222", monitoringUrl: "http://127.0.0.41:8222", monitoringScope: "host" as const } } };
    const d = evaluate(dev, { ...o, servers: { ...o.servers, "nats-1": { varzError: "ECONNREFUSED" } } }, hints).failures.map((x) => x.message);
    expect(d).toContain("http://127.0.0.41:8222 does not answer (ECONNREFUSED): is nats-server running? see nats-1.log");
  });

  it("a stream deleted out of band names the stream, its domain and the fix", () => {
    const o = healthy();
    expect(failures({ ...o, streams: { ...o.streams, "nats-1/E": { error: "stream not found" } } })).toEqual(["nats-1: streams: stream E is missing in domain nats-1: run pulumi up"]);
  });

  it("a drifted setting names declared and live values", () => {
    const o = healthy();
    expect(failures({ ...o, streams: { ...o.streams, "nats-1/E": { config: { subjects: ["e.>"], num_replicas: 3 } } } })).toEqual([
      "nats-1: streams: stream E differs from its declaration (num_replicas: declared 1, live 3): run pulumi up",
    ]);
  });

  it("a lagging or silent source names the aggregate, the source and the leaf", () => {
    const o = healthy();
    const silent = { ...o, streams: { ...o.streams, "hub/AGG": { config: { num_replicas: 3 }, sources: [{ name: "E", external: { api: "$JS.nats-1.API" }, lag: 12, active: 95e9 }] } } };
    expect(failures(silent)).toContain("hub-1: sources: aggregate AGG: source E@nats-1 last active 95 s ago (lag 12): is leaf nats-1 up and linked to the hub?");
  });

  it("a server enforcing another JWT of an account than the stack's current one fails on its row, naming the account, both iats and the re-issue", () => {
    const jwt = (iat: number) => `e30.${Buffer.from(JSON.stringify({ iat })).toString("base64url")}.sig`;
    const withAccounts: VerifyOutputs = { ...outputs, accounts: { PLATFORM: { publicKey: "AP", jwt: jwt(200) }, "person-service": { publicKey: "AS", jwt: jwt(150) } } };
    const o = healthy();
    const seen = (platform: number) => ({ accounts: { PLATFORM: { jwt: jwt(platform) }, "person-service": { error: "Account AS does not exist" } } });
    const servers = Object.fromEntries(Object.entries(o.servers).map(([n, s]) => [n, { ...s, ...seen(200) }]));
    const current = evaluate(withAccounts, { ...o, servers }, hints);
    expect(current.failures).toEqual([]);
    // Not loaded is no failure: the server reads it from its resolver store at first use.
    expect(current.rows.find((r) => r.server === "nats-1")!.cells.accounts).toEqual({ status: "ok", detail: "1 current, 1 not loaded" });

    const stale = evaluate(withAccounts, { ...o, servers: { ...servers, "nats-1": { ...servers["nats-1"], ...seen(1) }, "hub-2": { ...servers["hub-2"], ...seen(300) } } }, hints);
    expect(stale.failures.map((f) => `${f.server}: ${f.check}: ${f.message}`)).toEqual([
      "nats-1: accounts: enforces an older JWT of account PLATFORM (iat 1, the bootstrap JWT; the stack's iat 200): its push did not arrive; a linked server fetches it from its peers within seconds (resolver interval 5s); if it stays, re-issue the stack's: pulumi up --replace <URN of security-account-PLATFORM-jwt> (pulumi stack --show-urns)",
      "hub-2: accounts: enforces a JWT of account PLATFORM the stack did not issue (iat 300, the stack's iat 200): signed with the operator's key elsewhere (nsc?); re-issue the stack's: pulumi up --replace <URN of security-account-PLATFORM-jwt> (pulumi stack --show-urns)",
    ]);
    // Stacks from before the `accounts` output: no such check.
    expect(evaluate(outputs, { ...o, servers }, hints).rows[0].cells.accounts.status).toBe("n/a");
  });

  it("a stopped CID service fails on its leaf's row, naming the service and its log", () => {
    expect(failures({ ...healthy(), cid: { error: "no responders: the CID service is not running (or not subscribed)" } })).toEqual([
      "cimstor: cid: CID service does not answer on cimstor.objects.put/get at nats://10.0.0.2:4222: no responders: the CID service is not running (or not subscribed); see cid.log",
    ]);
  });
});
