/**
 * The CID service and `npm run verify` on the dev stack, through the real Pulumi CLI: a copy of
 * the project on its own addresses (127.0.71.x) beside the developer's stack (127.0.0.x).
 *
 * - the stack starts the CID service at cimstor with the cid-service user's own creds (least
 *   privilege: its bucket, its subjects, its inbox), and clients put/get through it;
 * - verify passes on the healthy topology; then a stopped CID service, a stream deleted out of
 *   band, a stopped leaf and a stopped hub member each make it fail naming the cause (each
 *   repaired by `pulumi up` before the next).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { credsAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Objm } from "@nats-io/obj";
import { EMPTY_CID, replyError } from "../../components/cid/cid";
import { getObject, putObject } from "../../components/cid/client";
import { processCommandLine } from "../../components/local/process-identity";
import { encodeAccountJwtAt } from "../../components/security/jwt";
import { pushAccountJwt } from "../../components/security/jwt-push";
import { createDevProject, type DevProject } from "../../harness/dev-project";
import { resourceSummary, runPulumi, stackOutputs } from "../../harness/pulumi-cli";
import { stackCa, stackClientTls } from "../../harness/stack-tls";
import { eventually } from "../support/eventually";

const NET = "127.0.71";
let project: DevProject;
let outputs: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
let adminCreds: string;
/** The stack's CA (every listener requires TLS): each client verifies the servers with it. */
let ca: string;
const timings: Record<string, number> = {};

async function pulumi(step: string, args: string[]) {
  const run = await runPulumi(project.context, [...args, "-s", "dev"], { timeoutMs: 600_000 });
  timings[step] = (timings[step] ?? 0) + run.ms;
  return run;
}

/** Pids of node processes started for a CID service under `dir`. */
function cidServicesUnder(dir: string): number[] {
  return fs
    .readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => processCommandLine(pid)?.some((a) => a.startsWith(`--cim-dir=${dir}`)));
}

async function asAdmin<T>(url: string | string[], use: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: url, tls: stackClientTls(ca, url), authenticator: credsAuthenticator(new TextEncoder().encode(adminCreds)) });
  try {
    return await use(nc);
  } finally {
    await nc.close();
  }
}

/** Runs `tsx scripts/verify.ts -s dev <args>` in the project copy: exit code and output. */
function verify(args: string[] = []): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn("tsx", ["scripts/verify.ts", "-s", "dev", ...args], { cwd: project.projectDir, env: project.context.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started }));
  });
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

beforeAll(async () => {
  project = createDevProject("cim-nats-cid-");
  const configFile = path.join(project.projectDir, "Pulumi.dev.yaml");
  fs.writeFileSync(configFile, fs.readFileSync(configFile, "utf8").replace(/127\.0\.0\.(\d+)/g, `${NET}.$1`));
  await pulumi("stack select", ["stack", "select", "--create"]);
  await pulumi("first up", ["up", "--yes", "--skip-preview"]);
  outputs = await stackOutputs(project.context, "dev");
  adminCreds = String(outputs.jetstreamAdminCreds);
  ca = stackCa(outputs);
}, 600_000);

afterAll(async () => {
  if (!project) return;
  const { destroyed, killed } = await project.cleanup();
  console.log("cid-verify pulumi timings (ms):", JSON.stringify(timings));
  if (!destroyed || killed.length > 0) console.log(`cleanup: destroy ${destroyed ? "ok" : "FAILED"}, killed ${killed.join(", ") || "none"}`);
}, 600_000);

describe("the CID service in the dev stack", () => {
  it("runs at cimstor as its own process with the cid-service user's creds", () => {
    expect(outputs.cidService).toMatchObject({ leaf: "cimstor", clientUrl: `nats://${NET}.2:4222`, user: "cid-service", bucket: "CLUSTER_OBJECTS", subjectPrefix: "cimstor.objects" });
    expect(cidServicesUnder(project.dir)).toHaveLength(1);
    const creds = fs.readFileSync(path.join(project.dataDir, "cid-service", "cid-service.creds"), "utf8");
    expect(creds).toBe(outputs.creds["cid-service"]);
    expect(fs.statSync(path.join(project.dataDir, "cid-service", "cid-service.creds")).mode & 0o777).toBe(0o600);
  });

  it("a second up changes nothing: the service's inputs (creds, code hash, pid) read back the same", async () => {
    const again = await pulumi("no-change up", ["up", "--yes", "--skip-preview"]);
    expect(Object.keys(resourceSummary(again.stdout))).toEqual(["unchanged"]);
    expect(cidServicesUnder(project.dir)).toHaveLength(1);
  }, 120_000);

  it("put/get round trips of 0 B, 1 KiB and 10 MiB with the CIDs multiformats computes", async () => {
    await asAdmin(outputs.cidService.clientUrl, async (nc) => {
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
    await asAdmin(outputs.cidService.clientUrl, async (nc) => {
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
    expect(json.code).toBe(0);
    expect(report.failures).toEqual([]);
    expect(report.rows.map((r: { server: string }) => r.server).sort()).toEqual(["cimstor", "nats-1", "nats-1-hub", "nats-2", "nats-2-hub", "nats-3", "nats-3-hub"]);
  }, 120_000);

  it("an account JWT signed elsewhere with the operator's key and pushed at a leaf fails there, naming account and iats; re-issuing it through pulumi up --replace repairs it", async () => {
    // The operator seed, as someone holding it (nsc) would sign with it.
    const exported = JSON.parse((await pulumi("export", ["stack", "export", "--show-secrets"])).stdout) as { deployment: { resources: { urn: string; outputs?: Record<string, unknown> }[] } };
    const plain = (v: unknown) => (v && typeof v === "object" && "plaintext" in v ? JSON.parse(String((v as { plaintext: string }).plaintext)) : v);
    const operatorSeed = String(plain(exported.deployment.resources.find((r) => r.urn.endsWith("::security-operator-key"))!.outputs!.seed));
    const platform = outputs.accounts.PLATFORM as { publicKey: string; jwt: string };
    const claims = JSON.parse(Buffer.from(platform.jwt.split(".")[1], "base64url").toString("utf8")) as { name: string; iat: number; nats: Record<string, unknown> };
    const foreign = encodeAccountJwtAt(claims.name, platform.publicKey, { ...claims.nats, tags: ["signed-elsewhere"] }, operatorSeed, claims.iat + 1);
    const sys = String((outputs.creds as Record<string, string>)["sys-monitor"] ?? "");
    const pushed = await pushAccountJwt({ account: "PLATFORM", accountPublicKey: platform.publicKey, jwt: foreign, servers: [{ name: "nats-1", url: `nats://${NET}.41:4222` }], creds: sys, caCertPem: ca });
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
    await asAdmin(`nats://${NET}.42:4222`, async (nc) => {
      await (await jetstreamManager(nc)).streams.delete("PERSON_EVENTS");
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
