/**
 * The CID object service against a real nats-server (JetStream, 127.0.70.1), run as the dev
 * stack runs it: a detached process started, health-checked and stopped by the LocalCidService
 * CRUD functions. CIDs are checked against multiformats called here directly and against the
 * published CID of the empty byte string.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { headers as natsHeaders, type NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import { Objm } from "@nats-io/obj";
import { connect } from "@nats-io/transport-node";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cidOf, cidReason, EMPTY_CID, Header, replyError } from "../../components/cid/cid";
import { getObject, putObject } from "../../components/cid/client";
import { startCidService } from "../../components/cid/service";
import {
  cidServiceCodeHash,
  createLocalCidService,
  deleteLocalCidService,
  diffLocalCidService,
  readLocalCidService,
  stopCidService,
  type LocalCidServiceInputs,
  type LocalCidServiceState,
} from "../../components/cid/local-cid-service-crud";
import { isProcessRunning, startNatsServer, stopNatsServer, waitHealthy } from "../../components/local/nats-process";

const ADDR = "127.0.70.1";
const URL = `nats://${ADDR}:4222`;
const MON = `http://${ADDR}:8222`;
const PREFIX = "cimstor.objects";
const BUCKET = "CLUSTER_OBJECTS";
const ROOT = path.resolve(__dirname, "..", "..");

let dir: string;
let conf: string;
let serverPid: number;
let nc: NatsConnection;
let inputs: LocalCidServiceInputs;
let state: LocalCidServiceState;

/** The CID as multiformats computes it, called here without the service's code. */
async function independentCid(bytes: Uint8Array): Promise<string> {
  return CID.createV1(0x55, await sha256.digest(bytes)).toString();
}

async function startServer(): Promise<void> {
  serverPid = (await startNatsServer({ configPath: conf, logPath: path.join(dir, "nats.log") })).pid;
  await waitHealthy(MON, 15_000, serverPid);
}

async function request(subject: string, data: Uint8Array | string = "", hdrs: Record<string, string> = {}) {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(hdrs)) h.set(k, v);
  return nc.request(subject, typeof data === "string" ? new TextEncoder().encode(data) : data, { timeout: 10_000, headers: h });
}

beforeAll(async () => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "cim-cid-")));
  conf = path.join(dir, "nats.conf");
  fs.writeFileSync(conf, [`listen: "${ADDR}:4222"`, `http: "${ADDR}:8222"`, `server_name: cid-test`, `jetstream { store_dir: "${dir}/js" }`].join("\n"));
  await startServer();
  nc = await connect({ servers: URL, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  await new Objm(nc).create(BUCKET);
  inputs = {
    dataDir: path.join(dir, "cid-service"),
    servers: [URL],
    creds: "",
    bucket: BUCKET,
    subjectPrefix: PREFIX,
    inboxPrefix: "_INBOX_cid-service",
    healthAddr: `${ADDR}:8290`,
    codeHash: cidServiceCodeHash(),
  };
  state = (await createLocalCidService(inputs)).outs;
}, 60_000);

afterAll(async () => {
  if (state) await deleteLocalCidService(state);
  await nc?.close();
  if (serverPid) await stopNatsServer(serverPid);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("CIDs", () => {
  it("the empty byte string has its published CID", async () => {
    expect(cidOf(new Uint8Array(0))).toBe(EMPTY_CID);
    expect(await independentCid(new Uint8Array(0))).toBe(EMPTY_CID);
  });

  it.each([
    ["bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", ""],
    ["QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR", "not a base32 lower CIDv1"],
    ["BAFKREIHDWDCEFGH4DQKJV67UZCMW7OJEE6XEDZDETOJUZJEVTENXQUVYKU", "not a base32 lower CIDv1"],
    ["bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "codec 0x71"],
    ["bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyk", "not a CID"],
    ["hello", "not a base32 lower CIDv1"],
  ])("cidReason(%s) says '%s'", (text, reason) => {
    if (reason === "") expect(cidReason(text)).toBe("");
    else expect(cidReason(text)).toContain(reason);
  });
});

describe("puts that change nothing, uploads that stay their own, memory that stays bounded", () => {
  /** The bucket's stream sequence: what a write moves. */
  const lastSeq = async () => (await (await jetstreamManager(nc)).streams.info(`OBJ_${BUCKET}`)).state.last_seq;

  it("a repeated put of the same bytes writes nothing (the stored digest matches its CID)", async () => {
    const bytes = randomBytes(5_000);
    const first = await request(`${PREFIX}.put`, bytes);
    expect(first.string()).toBe(await independentCid(bytes));
    const seq = await lastSeq();
    const again = await request(`${PREFIX}.put`, bytes);
    expect(again.string()).toBe(first.string());
    expect(await lastSeq()).toBe(seq);
  });

  it("an upload id belongs to the connection that started it: another connection's chunk under the same id neither breaks it nor joins it", async () => {
    const other = await connect({ servers: URL });
    try {
      const [a, b] = [randomBytes(1_000), randomBytes(1_000)];
      const first = await request(`${PREFIX}.put`, a, { [Header.Upload]: "shared-id", [Header.Chunk]: "0" });
      expect(replyError(first.headers)).toBeUndefined();
      // The other client's chunk 1 under the same id: for it there is no such upload.
      const h = natsHeaders();
      h.set(Header.Upload, "shared-id");
      h.set(Header.Chunk, "1");
      h.set(Header.Last, "true");
      const intruder = await other.request(`${PREFIX}.put`, b, { timeout: 10_000, headers: h });
      expect(replyError(intruder.headers)).toMatchObject({ code: 400 });
      // The owner finishes its upload as if nothing happened.
      const done = await request(`${PREFIX}.put`, b, { [Header.Upload]: "shared-id", [Header.Chunk]: "1", [Header.Last]: "true" });
      expect(done.string()).toBe(await independentCid(Buffer.concat([a, b])));
    } finally {
      await other.close();
    }
  });

  it("unfinished uploads of all clients together are capped: a chunk over the cap is refused with 503, and sent again once another upload finished, it completes", async () => {
    // A second instance on its own subjects, capped at 3,000 bytes held.
    const svcConn = await connect({ servers: URL });
    const capped = await startCidService(svcConn, { bucket: BUCKET, subjectPrefix: "capped.objects", queue: "capped", maxPendingBytes: 3_000 });
    const [c1, c2] = [await connect({ servers: URL }), await connect({ servers: URL })];
    const put = (nc2: NatsConnection, id: string, chunk: number, data: Uint8Array, last = false) => {
      const h = natsHeaders();
      h.set(Header.Upload, id);
      h.set(Header.Chunk, String(chunk));
      if (last) h.set(Header.Last, "true");
      return nc2.request("capped.objects.put", data, { timeout: 10_000, headers: h });
    };
    try {
      const [x0, x1, y0] = [randomBytes(2_000), randomBytes(500), randomBytes(2_000)];
      expect(replyError((await put(c1, "x", 0, x0)).headers)).toBeUndefined();
      const refused = await put(c2, "y", 0, y0);
      expect(replyError(refused.headers)).toEqual({ code: 503, message: expect.stringMatching(/holds 2000 bytes of unfinished uploads \(its cap is 3000\): send chunk 0 of 'y' again later/) });
      expect(capped.stats.pendingBytes).toBe(2_000);
      expect((await put(c1, "x", 1, x1, true)).string()).toBe(await independentCid(Buffer.concat([x0, x1])));
      expect(capped.stats.pendingBytes).toBe(0);
      expect((await put(c2, "y", 0, y0, true)).string()).toBe(await independentCid(y0));
    } finally {
      await Promise.all([c1.close(), c2.close(), svcConn.close()]);
    }
  });
});

describe("the service against a real server", () => {
  it("runs as a managed process: own pid, healthy, read sees it running", async () => {
    expect(isProcessRunning(state.pid)).toBe(true);
    expect((await fetch(`http://${inputs.healthAddr}/healthz`)).status).toBe(200);
    expect(readLocalCidService("x", state).props.running).toBe(true);
    expect(diffLocalCidService(state, inputs).changes).toBe(false);
    expect(diffLocalCidService(state, { ...inputs, bucket: "OTHER" }).changed).toEqual(["bucket"]);
  });

  it.each([
    ["0 B", 0],
    ["1 KiB", 1024],
    ["10 MiB", 10 * 1024 * 1024],
  ])("put/get round trip of %s: the CID is multiformats' and the bytes come back", async (_label, size) => {
    const bytes = new Uint8Array(randomBytes(size));
    const started = Date.now();
    const cid = await putObject(nc, bytes, { subjectPrefix: PREFIX, timeoutMs: 30_000 });
    const put = Date.now() - started;
    expect(cid).toBe(await independentCid(bytes));
    if (size === 0) expect(cid).toBe(EMPTY_CID);
    const back = await getObject(nc, cid, { subjectPrefix: PREFIX, timeoutMs: 30_000 });
    console.log(`round trip ${size} B: put ${put} ms, get ${Date.now() - started - put} ms`);
    expect(Buffer.compare(Buffer.from(back), Buffer.from(bytes))).toBe(0);
    // The object is in the bucket under its CID, so `nats object get` finds it too.
    const info = await new Objm(nc).open(BUCKET).then((os) => os.info(cid));
    expect(info?.size).toBe(size);
  }, 60_000);

  it("a large object's plain get says how to fetch it", async () => {
    const bytes = new Uint8Array(randomBytes(3 * 1024 * 1024));
    const cid = await putObject(nc, bytes, { subjectPrefix: PREFIX });
    const m = await request(`${PREFIX}.get.${cid}`);
    expect(replyError(m.headers)?.code).toBe(413);
    expect(m.headers?.get(Header.Bucket)).toBe(BUCKET);
    expect(m.headers?.get(Header.Object)).toBe(cid);
    expect(Number(m.headers?.get(Header.Chunks))).toBe(4);
    expect(m.string()).toContain(`nats object get ${BUCKET} ${cid}`);
  });

  it("a malformed CID, an unknown CID and a bad chunk are error replies, and the service keeps answering", async () => {
    const bad = await request(`${PREFIX}.get.not-a-cid`);
    expect(replyError(bad.headers)).toMatchObject({ code: 400 });
    expect(bad.string()).toContain("not a base32 lower CIDv1");
    const unknown = cidOf(new TextEncoder().encode("never stored"));
    const missing = await request(`${PREFIX}.get.${unknown}`);
    expect(replyError(missing.headers)).toMatchObject({ code: 404 });
    const chunk = await request(`${PREFIX}.get.${EMPTY_CID}`, "", { [Header.Chunk]: "x" });
    expect(replyError(chunk.headers)?.code).toBe(400);
    const outOfOrder = await request(`${PREFIX}.put`, "abc", { [Header.Upload]: "u1", [Header.Chunk]: "3" });
    expect(replyError(outOfOrder.headers)?.code).toBe(400);
    expect((await request(`${PREFIX}.put`, "still here")).string()).toBe(cidOf(new TextEncoder().encode("still here")));
  });

  it("tampering with a stored object (overwritten through the object store API) is detected on get", async () => {
    const bytes = new TextEncoder().encode("the original content");
    const cid = await putObject(nc, bytes, { subjectPrefix: PREFIX });
    const store = await new Objm(nc).open(BUCKET);
    await store.putBlob({ name: cid }, new TextEncoder().encode("something else entirely"));
    const m = await request(`${PREFIX}.get.${cid}`);
    expect(replyError(m.headers)?.code).toBe(409);
    expect(m.string()).toContain("does not match its CID");
    // A put of the true content repairs it.
    await putObject(nc, bytes, { subjectPrefix: PREFIX });
    expect(new TextDecoder().decode(await getObject(nc, cid, { subjectPrefix: PREFIX }))).toBe("the original content");
  });

  it("1,000 concurrent gets all succeed", async () => {
    const bytes = new Uint8Array(randomBytes(1024));
    const cid = await putObject(nc, bytes, { subjectPrefix: PREFIX });
    const started = Date.now();
    const results = await Promise.allSettled(Array.from({ length: 1000 }, () => getObject(nc, cid, { subjectPrefix: PREFIX, timeoutMs: 60_000 })));
    const ms = Date.now() - started;
    const failed = results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason));
    console.log(`1000 concurrent gets of 1 KiB: ${ms} ms, ${failed.length} failed`);
    expect(failed).toEqual([]);
    for (const r of results) expect(Buffer.from((r as PromiseFulfilledResult<Uint8Array>).value).equals(Buffer.from(bytes))).toBe(true);
  }, 120_000);

  it("nats request from the pinned CLI puts and gets", () => {
    const nats = path.join(ROOT, ".tools", "bin", "nats");
    const cid = execFileSync(nats, ["--no-context", "-s", URL, "request", `${PREFIX}.put`, "hello cimstor", "--raw"], { encoding: "utf8" }).trim();
    expect(cid).toBe(cidOf(new TextEncoder().encode("hello cimstor")));
    const got = execFileSync(nats, ["--no-context", "-s", URL, "request", `${PREFIX}.get.${cid}`, "", "--raw"], { encoding: "utf8" });
    expect(got.replace(/\n+$/, "")).toBe("hello cimstor");
  });

  it("reconnects through a server restart", async () => {
    await stopNatsServer(serverPid);
    await startServer();
    const bytes = new TextEncoder().encode("after the restart");
    const deadline = Date.now() + 20_000;
    let cid = "";
    while (!cid) {
      try {
        cid = await putObject(nc, bytes, { subjectPrefix: PREFIX, timeoutMs: 2_000 });
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    expect(cid).toBe(cidOf(bytes));
    expect(isProcessRunning(state.pid)).toBe(true);
  }, 40_000);

  it("drains on SIGTERM and exits 0; a stopped service shows as drift", async () => {
    await stopCidService(state.dataDir, state.pid);
    expect(isProcessRunning(state.pid)).toBe(false);
    expect(diffLocalCidService(state, inputs).changed).toContain("running");
    const text = fs.readFileSync(state.logPath, "utf8");
    expect(text).toContain("SIGTERM, draining");
    expect(text).toContain("drained");
    state = (await createLocalCidService(inputs)).outs;
  }, 40_000);
});
