/**
 * The dev stack end to end: the real Pulumi CLI runs this project's program on Pulumi.dev.yaml
 * and real nats-server processes come up on 127.0.41.x — the whole topology, streams, aggregate,
 * buckets, accounts and users. A copy of the project with its own file backend and its own
 * `.cim-dev/dev` (harness/dev-project.ts), so the developer's dev stack is never touched; it
 * uses the dev stack's addresses, so that stack must be down while this runs.
 *
 * TLS is the default: the first `up` issues the CA and every server's certificate, the servers
 * require TLS, the JetStream providers (and the CID service) connect with the CA (step 1).
 *
 * On the same stack, after steps 1-2:
 * - the stack runs the CID service at cimstor with the cid-service user's own creds (least
 *   privilege: its bucket, its subjects, its inbox), and clients put/get through it;
 * - `npm run verify` passes on the healthy topology; then a foreign account JWT, a stopped CID
 *   service, a stream deleted out of band, a stopped leaf and a stopped hub member each make it
 *   fail naming the cause (each repaired by `pulumi up` before the next);
 * then events at each leaf reach the aggregate once (3), a changed max_age updates in place (4), a
 * stream deleted with the nats CLI is noticed by refresh and recreated by up (5), and `pulumi
 * destroy` stops everything (6).
 *
 * This file was three, each bringing the same dev config up from nothing on its own addresses:
 * dev-stack (127.0.41.x), tls-dev (127.0.81.x) and cid-verify (127.0.71.x). One stack proves what
 * the three did. The CID and verify cases run before any event is published: verify's deleted
 * stream at nats-2 (and step 5's at nats-3) would otherwise leave the aggregate ahead of a
 * recreated, empty leaf stream, which verify rightly reports as a rewound source.
 *
 * The steps build on each other (one stack, in order); case 6 destroys it, and afterAll kills any
 * nats-server left under the temp dir by pid, also when a step failed.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { credsAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EMPTY_CID, replyError } from "../../components/cid/cid";
import { getObject, putObject } from "../../components/cid/client";
import { processCommandLine } from "../../components/local/process-identity";
import { encodeAccountJwtAt } from "../../components/security/jwt";
import { pushAccountJwt } from "../../components/security/jwt-push";
import { createDevProject, type DevProject } from "../../harness/dev-project";
import { natsServersUnder } from "../../harness/processes";
import { resourceSummary, runPulumi, stackOutputs, type PulumiRun } from "../../harness/pulumi-cli";
import { runProcess, type ProcessRun } from "../../harness/run-process";
import { eventually } from "../support/eventually";
import { stackCa, stackClientTls, writeCaFile } from "../../harness/stack-tls";
import { certInfo } from "../../components/tls/certs";

type Outputs = {
  leaves: Record<string, { clientUrl: string; monitoringUrl: string; jetstreamDomain: string }>;
  hub: { clientUrls: string[]; monitoringUrls: string[]; jetstreamDomain: string };
  jetstream: { streams: Record<string, string[]>; kv: Record<string, string[]>; objects: Record<string, string[]> };
  creds: Record<string, string>;
  jetstreamAdminCreds: string;
  tls: { mode: string; caCert: string | null };
  natsContexts: Record<string, string>;
  cidService: { leaf: string; clientUrl: string; user: string; bucket: string; subjectPrefix: string };
  accounts: Record<string, { publicKey: string; jwt: string }>;
};

const NET = "127.0.41";

const LEAF_STREAM = "PERSON_EVENTS";
const AGGREGATE = "CLUSTER_PERSON_EVENTS";
const HOUR_NS = 3600e9;

let project: DevProject;
let outputs: Outputs;
/** The stack's CA (every listener requires TLS): each client verifies the servers with it. */
let ca: string;
/** nats-server pids seen after the first up: all must be gone after destroy. */
let startedPids: number[] = [];
/** Event ids published in step 2, by leaf. */
const published: Record<string, string> = {};
const timings: Record<string, number> = {};

async function pulumi(step: string, args: string[], allowFailure = false): Promise<PulumiRun> {
  const run = await runPulumi(project.context, [...args, "-s", "dev"], { allowFailure, timeoutMs: 600_000 });
  timings[step] = (timings[step] ?? 0) + run.ms;
  return run;
}

async function asAdmin(url: string | string[]): Promise<NatsConnection> {
  return connect({ servers: url, tls: stackClientTls(ca, url), authenticator: credsAuthenticator(new TextEncoder().encode(outputs.jetstreamAdminCreds)), name: "e2e-admin" });
}

async function withAdmin<T>(url: string | string[], use: (nc: NatsConnection, jsm: JetStreamManager) => Promise<T>): Promise<T> {
  const nc = await asAdmin(url);
  try {
    return await use(nc, await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}

/** Every message payload in a stream, in order (direct gets by sequence). */
async function payloads(jsm: JetStreamManager, stream: string): Promise<string[]> {
  const info = await jsm.streams.info(stream);
  const out: string[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (msg) out.push(msg.string()); // null: a deleted sequence
  }
  return out;
}

/** Pids of node processes started for a CID service under `dir`. */
function cidServicesUnder(dir: string): number[] {
  return fs
    .readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => processCommandLine(pid)?.some((a) => a.startsWith(`--cim-dir=${dir}`)));
}

/** Runs `tsx scripts/verify.ts -s dev <args>` in the project copy: exit code and output. */
function verify(args: string[] = []): Promise<ProcessRun> {
  return runProcess("tsx", ["scripts/verify.ts", "-s", "dev", ...args], { cwd: project.projectDir, env: project.context.env });
}

/** After a repair the topology settles (leaf links reconnect, JetStream catches up): verify passes within 60 s. */
async function verifyEventuallyPasses(): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const run = await verify(["--source-wait", "5"]);
    if (run.code === 0) return;
    if (Date.now() > deadline) throw new Error(`verify still fails 60 s after the repair:\n${run.stdout}${run.stderr}`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

function pidOf(serverDir: string): number {
  return Number(fs.readFileSync(path.join(project.dataDir, serverDir, "nats.pid"), "utf8").trim());
}

function natsCli(args: string[]): string {
  const credsFile = path.join(project.dir, "jetstream-admin.creds");
  if (!fs.existsSync(credsFile)) fs.writeFileSync(credsFile, outputs.jetstreamAdminCreds, { mode: 0o600 });
  return execFileSync("nats", ["--creds", credsFile, "--tlsca", writeCaFile(project.dir, ca), ...args], { env: project.context.env, encoding: "utf8", timeout: 20_000 });
}

beforeAll(async () => {
  project = createDevProject();
  // Its own addresses (the dev stack's 127.0.0.x moved to 127.0.41.x): it runs beside `npm start`.
  const configFile = path.join(project.projectDir, "Pulumi.dev.yaml");
  fs.writeFileSync(configFile, fs.readFileSync(configFile, "utf8").replace(/127\.0\.0\.(\d+)/g, `${NET}.$1`));
  await pulumi("stack select --create", ["stack", "select", "--create"]);
});

afterAll(async () => {
  if (!project) return;
  // Case 6 destroyed the stack (when it ran): anything killed here was left behind.
  const { killed } = await project.cleanup();
  console.log("e2e pulumi timings (ms):", JSON.stringify(timings));
  if (killed.length > 0) console.log(`e2e cleanup: killed leftover pids ${killed.join(", ")}`);
});

describe("the dev stack under the real Pulumi CLI", () => {
  it("1. `pulumi up -s dev` from nothing succeeds and the outputs are there, with TLS on every listener; clients verify with the CA output", async () => {
    const up = await pulumi("up from nothing", ["up", "--yes", "--skip-preview"]);
    const summary = resourceSummary(up.stdout);
    expect(summary.create).toBeGreaterThan(40);
    expect(Object.keys(summary)).toEqual(["create"]);

    outputs = (await stackOutputs(project.context, "dev")) as unknown as Outputs;
    ca = stackCa(outputs);
    expect(Object.keys(outputs.leaves).sort()).toEqual(["cimstor", "nats-1", "nats-2", "nats-3"]);
    expect(outputs.hub.clientUrls).toEqual(["nats://127.0.41.41:4223", "nats://127.0.41.42:4223", "nats://127.0.41.43:4223"]);
    expect(outputs.jetstream.streams[AGGREGATE]).toEqual(["hub"]);
    expect(outputs.creds["person-service"]).toMatch(/BEGIN NATS USER JWT[\s\S]*BEGIN USER NKEY SEED/);
    expect(outputs.jetstreamAdminCreds).toMatch(/BEGIN NATS USER JWT/);

    startedPids = natsServersUnder(project.dir);
    expect(startedPids).toHaveLength(7);
    for (const url of [...Object.values(outputs.leaves).map((l) => l.monitoringUrl), ...outputs.hub.monitoringUrls]) {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    }
    // Secrets never reach the state file in plaintext.
    const seed = /SU[A-Z0-9]{56}/.exec(outputs.creds["person-service"])![0];
    const stateFiles = fs.readdirSync(path.join(project.dir, "state"), { recursive: true }).map(String).filter((f) => f.endsWith(".json"));
    for (const f of stateFiles) expect(fs.readFileSync(path.join(project.dir, "state", f), "utf8")).not.toContain(seed);

    // TLS by default: the CA is an output.
    expect(outputs.tls.mode).toBe("generated");
    expect(outputs.tls.caCert).toMatch(/^-----BEGIN CERTIFICATE-----/);
    // Every server's config requires TLS; the route password is in no config, only in the 0600 include.
    for (const server of ["nats-1", "nats-1-hub", "cimstor"]) {
      const conf = fs.readFileSync(path.join(project.dataDir, server, "nats.conf"), "utf8");
      expect(conf).toMatch(/^tls: \{/m);
      const cert = fs.readFileSync(path.join(project.dataDir, server, "tls", "cert.pem"), "utf8");
      expect(certInfo(cert).dnsNames).toContain(server);
      expect((fs.statSync(path.join(project.dataDir, server, "tls", "key.pem")).mode & 0o777).toString(8)).toBe("600");
    }
    const hubConf = fs.readFileSync(path.join(project.dataDir, "nats-1-hub", "nats.conf"), "utf8");
    expect(hubConf).toContain('include "cluster-auth.conf"');
    expect(hubConf).not.toMatch(/password/);
    // The JetStream admin reaches the hub's aggregate over TLS with the CA; a plain client gets no PONG.
    const info = await withAdmin(outputs.hub.clientUrls, (_nc, jsm) => jsm.streams.info(AGGREGATE));
    expect(info.config.name).toBe(AGGREGATE);
    const plain = await new Promise<string>((resolve) => {
      let text = "";
      const { hostname, port } = new URL(outputs.hub.clientUrls[0]);
      const s = net.connect(Number(port), hostname, () => s.write("CONNECT {}\r\nPING\r\n"));
      s.on("data", (d) => (text += d));
      s.setTimeout(3_000, () => s.destroy());
      s.on("close", () => resolve(text));
      s.on("error", () => resolve(text));
    });
    expect(plain).not.toContain("PONG");
    // Contexts name the CA.
    expect(JSON.parse(outputs.natsContexts["hub"]).ca).toMatch(/ca\.pem$/);
  }, 240_000);

  it("2. a second run reports no changes; the CID service stays the one process", async () => {
    const preview = await pulumi("preview --expect-no-changes", ["preview", "--diff", "--expect-no-changes"], true);
    expect(preview.code, preview.stdout.slice(-3000)).toBe(0);
    const up = await pulumi("up, no changes", ["up", "--yes", "--skip-preview"]);
    expect(Object.keys(resourceSummary(up.stdout))).toEqual(["unchanged"]);
    // The CID service's inputs (creds, code hash, pid) read back the same: still the one process.
    expect(cidServicesUnder(project.dir)).toHaveLength(1);
  }, 300_000);
});

describe("the CID service in the dev stack", () => {
  it("runs at cimstor as its own process with the cid-service user's creds", () => {
    expect(outputs.cidService).toMatchObject({ leaf: "cimstor", clientUrl: `nats://${NET}.2:4222`, user: "cid-service", bucket: "CLUSTER_OBJECTS", subjectPrefix: "cimstor.objects" });
    expect(cidServicesUnder(project.dir)).toHaveLength(1);
    const creds = fs.readFileSync(path.join(project.dataDir, "cid-service", "cid-service.creds"), "utf8");
    expect(creds).toBe(outputs.creds["cid-service"]);
    expect(fs.statSync(path.join(project.dataDir, "cid-service", "cid-service.creds")).mode & 0o777).toBe(0o600);
  });

  it("put/get round trips of 0 B, 1 KiB and 10 MiB with the CIDs multiformats computes", async () => {
    await withAdmin(outputs.cidService.clientUrl, async (nc) => {
      for (const size of [0, 1024, 10 * 1024 * 1024]) {
        const bytes = new Uint8Array(randomBytes(size));
        const cid = await putObject(nc, bytes, { subjectPrefix: "cimstor.objects", timeoutMs: 30_000 });
        expect(cid).toBe(CID.createV1(0x55, await sha256.digest(bytes)).toString());
        if (size === 0) expect(cid).toBe(EMPTY_CID);
        expect(Buffer.from(await getObject(nc, cid, { subjectPrefix: "cimstor.objects", timeoutMs: 30_000 })).equals(Buffer.from(bytes))).toBe(true);
      }
    });
  }, 120_000);

  it("tampering through the object store API is detected; 1,000 concurrent gets all succeed (with the service's least-privilege user)", async () => {
    await withAdmin(outputs.cidService.clientUrl, async (nc) => {
      const bytes = new TextEncoder().encode("original at cimstor");
      const cid = await putObject(nc, bytes, { subjectPrefix: "cimstor.objects" });
      const store = await new Objm(nc).open("CLUSTER_OBJECTS");
      await store.putBlob({ name: cid }, new TextEncoder().encode("tampered"));
      const m = await nc.request(`cimstor.objects.get.${cid}`, new Uint8Array(0), { timeout: 5_000 });
      expect(replyError(m.headers)?.code).toBe(409);
      await putObject(nc, bytes, { subjectPrefix: "cimstor.objects" });
      const one = await putObject(nc, new Uint8Array(randomBytes(1024)), { subjectPrefix: "cimstor.objects" });
      const started = Date.now();
      const results = await Promise.allSettled(Array.from({ length: 1000 }, () => getObject(nc, one, { subjectPrefix: "cimstor.objects", timeoutMs: 60_000 })));
      console.log(`dev topology: 1000 concurrent gets of 1 KiB in ${Date.now() - started} ms`);
      expect(results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    });
  }, 120_000);

  it("its user cannot step outside its bindings", async () => {
    const nc = await connect({ servers: outputs.cidService.clientUrl, tls: stackClientTls(ca, outputs.cidService.clientUrl), authenticator: credsAuthenticator(new TextEncoder().encode(outputs.creds["cid-service"])), inboxPrefix: "_INBOX_cid-service" });
    try {
      const jsm = await jetstreamManager(nc);
      await expect(jsm.streams.info("OBJ_PERSON_OBJECTS")).rejects.toThrow();
      await expect(jsm.streams.info("OBJ_CLUSTER_OBJECTS")).resolves.toBeTruthy();
    } finally {
      await nc.close();
    }
  });
});

describe("npm run verify", () => {
  it("passes on the healthy topology, with --json too", async () => {
    const run = await verify();
    console.log(`verify (healthy) ${run.ms} ms:\n${run.stdout}`);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/all \d+ checks passed/);
    const json = await verify(["--json"]);
    const report = JSON.parse(json.stdout);
    expect(report.failures).toEqual([]); // first: a failure names itself
    expect(json.code).toBe(0);
    expect(report.rows.map((r: { server: string }) => r.server).sort()).toEqual(["cimstor", "nats-1", "nats-1-hub", "nats-2", "nats-2-hub", "nats-3", "nats-3-hub"]);
  }, 120_000);

  it("an account JWT signed elsewhere with the operator's key and pushed at a leaf fails there, naming account and iats; re-issuing it through pulumi up --replace repairs it", async () => {
    // The operator seed, as someone holding it (nsc) would sign with it.
    const exported = JSON.parse((await pulumi("export", ["stack", "export", "--show-secrets"])).stdout) as { deployment: { resources: { urn: string; outputs?: Record<string, unknown> }[] } };
    const plain = (v: unknown) => (v && typeof v === "object" && "plaintext" in v ? JSON.parse(String((v as { plaintext: string }).plaintext)) : v);
    const operatorSeed = String(plain(exported.deployment.resources.find((r) => r.urn.endsWith("::security-operator-key"))!.outputs!.seed));
    const platform = outputs.accounts.PLATFORM;
    const claims = JSON.parse(Buffer.from(platform.jwt.split(".")[1], "base64url").toString("utf8")) as { name: string; iat: number; nats: Record<string, unknown> };
    const foreign = encodeAccountJwtAt(claims.name, platform.publicKey, { ...claims.nats, tags: ["signed-elsewhere"] }, operatorSeed, claims.iat + 1);
    const sys = String((outputs.creds as Record<string, string>)["sys-monitor"] ?? "");
    const pushed = await pushAccountJwt({ account: "PLATFORM", accountPublicKey: platform.publicKey, jwt: foreign, servers: [{ name: "nats-1", url: outputs.leaves["nats-1"].clientUrl }], creds: sys, caCertPem: ca });
    expect(pushed.confirmed).toEqual(["nats-1"]);
    // It stays at nats-1: a leaf's system link takes JWTs in, never serves them to the hub's resolver sync.
    const run = await verify();
    console.log(run.stdout);
    expect(run.code).not.toBe(0);
    expect(run.stdout.match(/^ {2}\S+: accounts: .*$/gm)).toEqual([
      `  nats-1: accounts: enforces a JWT of account PLATFORM the stack did not issue (iat ${claims.iat + 1}, the stack's iat ${claims.iat}): signed with the operator's key elsewhere (nsc?); re-issue the stack's: pulumi up --replace <URN of security-account-PLATFORM-jwt> (pulumi stack --show-urns)`,
    ]);
    const urn = exported.deployment.resources.find((r) => r.urn.endsWith("::security-account-PLATFORM-jwt"))!.urn;
    await pulumi("re-issue PLATFORM", ["up", "--yes", "--skip-preview", "--replace", urn]);
    await verifyEventuallyPasses();
  }, 300_000);

  it("a stopped CID service fails, naming it", async () => {
    for (const pid of cidServicesUnder(project.dir)) process.kill(pid, "SIGTERM");
    await eventually("the CID service gone", async () => cidServicesUnder(project.dir), (pids) => pids.length === 0, 10_000, 50);
    const run = await verify();
    console.log(run.stdout);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toMatch(/cimstor\s.*cid.*CID service/is);
    expect(run.stdout).toContain("cid-service.log");
    await pulumi("repair cid", ["up", "--yes", "--skip-preview"]);
    await verifyEventuallyPasses();
  }, 300_000);

  it("a stream deleted out of band fails, naming the stream and its domain", async () => {
    await withAdmin(outputs.leaves["nats-2"].clientUrl, async (_nc, jsm) => {
      await jsm.streams.delete("PERSON_EVENTS");
    });
    const run = await verify();
    console.log(run.stdout);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toMatch(/nats-2: streams: stream PERSON_EVENTS is missing/);
    await pulumi("repair stream", ["up", "--yes", "--skip-preview", "--refresh"]);
    await verifyEventuallyPasses();
  }, 300_000);

  it("a stopped leaf fails, naming the leaf", async () => {
    process.kill(pidOf("nats-3"), "SIGKILL");
    const run = await verify();
    console.log(run.stdout);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toMatch(/nats-3: reachable: /);
    // Without --refresh: a refresh would read the dead leaf's streams; up sees the process gone and starts it.
    await pulumi("repair leaf", ["up", "--yes", "--skip-preview"]);
    await verifyEventuallyPasses();
  }, 300_000);

  it("a stopped hub member fails, naming the member", async () => {
    process.kill(pidOf("nats-2-hub"), "SIGKILL");
    const run = await verify();
    console.log(run.stdout);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toMatch(/nats-2-hub: reachable: /);
    expect(run.stdout).toMatch(/nats-\d-hub: (routes|meta): .*nats-2-hub/);
    await pulumi("repair hub member", ["up", "--yes", "--skip-preview"]);
    await verifyEventuallyPasses();
  }, 300_000);
});

describe("day 2 on the same stack (after the CID and verify cases: their faults are repaired, and the events published here stay in the leaves' streams)", () => {
  it("3. events published with person-service creds at each leaf land once in the hub aggregate; KV and objects work", async () => {
    const creds = new TextEncoder().encode(outputs.creds["person-service"]);
    for (const [leaf, endpoints] of Object.entries(outputs.leaves)) {
      const id = `e2e-${leaf}-${randomBytes(4).toString("hex")}`;
      published[leaf] = id;
      const nc = await connect({ servers: endpoints.clientUrl, tls: stackClientTls(ca, endpoints.clientUrl), authenticator: credsAuthenticator(creds), name: `person-service@${leaf}` });
      try {
        // person-service may publish events but not use the JetStream API: a core publish the leaf's stream captures.
        nc.publish("person.events.created", JSON.stringify({ id, leaf }));
        await nc.flush();
      } finally {
        await nc.close();
      }
    }

    // Each leaf's stream holds its own event only (leaf stores stay local).
    for (const [leaf, endpoints] of Object.entries(outputs.leaves)) {
      const held = await eventually(
        `${leaf}'s ${LEAF_STREAM} holding its event`,
        () => withAdmin(endpoints.clientUrl, (_nc, jsm) => payloads(jsm, LEAF_STREAM)),
        (p) => p.some((m) => m.includes(published[leaf])),
      );
      expect(held.filter((m) => Object.values(published).some((id) => m.includes(id)))).toEqual([JSON.stringify({ id: published[leaf], leaf })]);
    }
    // The aggregate holds every event exactly once.
    const all = Object.values(published);
    const aggregate = await eventually(
      `${AGGREGATE} holding all ${all.length} events`,
      () => withAdmin(outputs.hub.clientUrls, (_nc, jsm) => payloads(jsm, AGGREGATE)),
      (p) => all.every((id) => p.some((m) => m.includes(id))),
    );
    for (const id of all) expect(aggregate.filter((m) => m.includes(id))).toHaveLength(1);

    // KV: the declared entries, readable at every leaf and at the hub.
    for (const endpoints of Object.values(outputs.leaves)) {
      const value = await withAdmin(endpoints.clientUrl, async (nc) => (await (await new Kvm(nc).open("PERSON_METADATA")).get("domain.name"))?.string());
      expect(value).toBe("Person Domain");
    }
    const platform = await withAdmin(outputs.hub.clientUrls, async (nc) => (await (await new Kvm(nc).open("CLUSTER_METADATA")).get("platform.name"))?.string());
    expect(platform).toBe("CIM");

    // An object put on cimstor reads back identically.
    const blob = randomBytes(512 * 1024);
    const back = await withAdmin(outputs.leaves.cimstor.clientUrl, async (nc) => {
      const store = await new Objm(nc).open("CLUSTER_OBJECTS");
      await store.putBlob({ name: "e2e/blob.bin" }, blob);
      return store.getBlob("e2e/blob.bin");
    });
    expect(createHash("sha256").update(back!).digest("hex")).toBe(createHash("sha256").update(blob).digest("hex"));
  }, 120_000);

  it("4. a changed max_age previews as an in-place update, applies, and loses no data", async () => {
    // The project copy's Pulumi.dev.yaml; the repo's file is never touched.
    await runPulumi(project.context, ["config", "set", "--path", "cim-nats:jetstream.streams[0].max_age", "1440h", "-s", "dev"]);
    const preview = await pulumi("preview max_age change", ["preview", "--diff"]);
    const planned = resourceSummary(preview.stdout);
    expect(planned.update).toBe(4); // PERSON_EVENTS at each of the four leaves
    expect(planned.replace ?? 0).toBe(0);
    expect(planned.delete ?? 0).toBe(0);
    expect(planned.create ?? 0).toBe(0);
    expect(preview.stdout).toMatch(/max_age/);

    await pulumi("up max_age change", ["up", "--yes", "--skip-preview"]);

    for (const [leaf, endpoints] of Object.entries(outputs.leaves)) {
      await withAdmin(endpoints.clientUrl, async (_nc, jsm) => {
        const info = await jsm.streams.info(LEAF_STREAM);
        expect(info.config.max_age).toBe(1440 * HOUR_NS);
        expect((await payloads(jsm, LEAF_STREAM)).some((m) => m.includes(published[leaf]))).toBe(true);
      });
    }
    const aggregate = await withAdmin(outputs.hub.clientUrls, (_nc, jsm) => payloads(jsm, AGGREGATE));
    for (const id of Object.values(published)) expect(aggregate.filter((m) => m.includes(id))).toHaveLength(1);
  }, 180_000);

  it("5. a stream deleted out of band with the nats CLI: refresh notices, up recreates it", async () => {
    natsCli(["--server", outputs.leaves["nats-3"].clientUrl, "stream", "rm", LEAF_STREAM, "--force"]);
    await expect(withAdmin(outputs.leaves["nats-3"].clientUrl, (_nc, jsm) => jsm.streams.info(LEAF_STREAM))).rejects.toThrow();

    const refresh = await pulumi("refresh after out-of-band delete", ["refresh", "--yes", "--skip-preview"]);
    expect(resourceSummary(refresh.stdout).delete).toBe(1);
    const up = await pulumi("up recreating the stream", ["up", "--yes", "--skip-preview"]);
    expect(resourceSummary(up.stdout).create).toBe(1);

    const info = await withAdmin(outputs.leaves["nats-3"].clientUrl, (_nc, jsm) => jsm.streams.info(LEAF_STREAM));
    expect(info.config.subjects).toEqual(["person.events.>"]);
    expect(info.config.max_age).toBe(1440 * HOUR_NS);
    const cli = natsCli(["--server", outputs.leaves["nats-3"].clientUrl, "stream", "ls", "--names"]);
    expect(cli.split(/\s+/)).toContain(LEAF_STREAM);
  }, 180_000);
});

describe("the end", () => {
  it("6. `pulumi destroy` stops every process it started and removes the data", async () => {
    const destroy = await pulumi("destroy", ["destroy", "--yes", "--skip-preview"]);
    expect(Object.keys(resourceSummary(destroy.stdout))).toEqual(["delete"]);

    for (const pid of startedPids) {
      const alive = fs.existsSync(`/proc/${pid}/cmdline`) && fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(project.dir);
      expect(alive, `nats-server pid ${pid} still running`).toBe(false);
    }
    expect(natsServersUnder(project.dir)).toEqual([]);
    const left = fs.existsSync(project.dataDir) ? fs.readdirSync(project.dataDir) : [];
    expect(left).toEqual([]);
    for (const url of Object.values(outputs.leaves).map((l) => l.monitoringUrl)) {
      await expect(fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) })).rejects.toThrow();
    }
  }, 120_000);
});
