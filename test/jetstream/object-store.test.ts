/**
 * Object buckets against a real nats-server (domain "t3"): CRUD, import, in-place updates, the
 * data-loss guard, and object put/get by name through the object store client.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { Objm } from "@nats-io/obj";
import { closeJetStreamConnections } from "../../components/jetstream/connection-pool";
import { DataLossError } from "../../components/jetstream/data-loss";
import {
  checkObjectStore,
  createObjectStore,
  deleteObjectStore,
  diffObjectStore,
  readObjectStore,
  updateObjectStore,
  type ObjectStoreArgs,
} from "../../components/jetstream/object-store";
import { streamInfo } from "../../components/jetstream/stream-requests";
import { natsCli, startSingleServer, type SingleServer } from "../../harness/single-server";

let server: SingleServer;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startSingleServer({ domain: "t3" });
  nc = await connect({ servers: server.url });
});

afterAll(async () => {
  await nc?.close();
  await closeJetStreamConnections();
  await server?.stop();
});

const objArgs = (over: Partial<ObjectStoreArgs> & { bucket: string }): ObjectStoreArgs => ({ target: server.target, ...over });

describe("object bucket", () => {
  it("creates a bucket the object store client puts to and gets from by name", async () => {
    const { id, outs } = await createObjectStore(objArgs({ bucket: "PERSON_OBJECTS", description: "person files" }));
    expect(id).toBe("object-store:t3/PERSON_OBJECTS");
    expect(outs.description).toBe("person files");
    const os = await new Objm(nc).open("PERSON_OBJECTS");
    const payload = new Uint8Array(300_000).map((_, i) => i % 251);
    await os.putBlob({ name: "photos/portrait.png" }, payload);
    const back = await os.getBlob("photos/portrait.png");
    expect(back).toEqual(payload);
    expect((await os.info("photos/portrait.png"))?.size).toBe(300_000);
  });

  it("shows no diff on an unchanged second apply, before and after a refresh", async () => {
    const a = objArgs({ bucket: "NODIFF", ttl: "720h", compression: true, metadata: { a: "b" } });
    const { id, outs } = await createObjectStore(a);
    expect(await diffObjectStore(id, outs, a)).toMatchObject({ changes: false, replaces: [] });
    const r = await readObjectStore(id, outs);
    expect(await diffObjectStore(id, r.props!, a)).toMatchObject({ changes: false });
  });

  it("imports a bucket made by `nats obj add` with no diff", async () => {
    natsCli(server.url, ["obj", "add", "CLIOBJ"]);
    const program = objArgs({ bucket: "CLIOBJ" });
    const r = await readObjectStore("object-store:t3/CLIOBJ", program);
    expect(await diffObjectStore("object-store:t3/CLIOBJ", r.props!, program)).toMatchObject({ changes: false });
  });

  it("changes ttl, description and max_bytes in place, keeping the objects", async () => {
    const a = objArgs({ bucket: "INPLACE" });
    const { id, outs } = await createObjectStore(a);
    const os = await new Objm(nc).open("INPLACE");
    await os.putBlob({ name: "keep" }, new TextEncoder().encode("kept"));
    const b = { ...a, ttl: "24h", description: "d", max_bytes: 10_000_000 };
    expect(await diffObjectStore(id, outs, b)).toMatchObject({ changes: true, replaces: [] });
    const { outs: after } = await updateObjectStore(id, outs, b);
    expect(after.ttl).toBe(24 * 3600e9);
    expect(new TextDecoder().decode((await os.getBlob("keep")) ?? new Uint8Array())).toBe("kept");
    expect(await diffObjectStore(id, after, b)).toMatchObject({ changes: false });
  });

  it("guards delete and replace of a bucket holding objects", async () => {
    const a = objArgs({ bucket: "GUARDED" });
    const { id, outs } = await createObjectStore(a);
    const os = await new Objm(nc).open("GUARDED");
    await os.putBlob({ name: "x" }, new TextEncoder().encode("data"));
    await expect(deleteObjectStore(id, outs)).rejects.toThrow(DataLossError);
    await expect(diffObjectStore(id, outs, { ...a, storage: "memory" })).rejects.toThrow(/replacing it would lose them/);
    await deleteObjectStore(id, { ...outs, allowDataLoss: true });
    expect(await streamInfo(server.target, "OBJ_GUARDED")).toBeUndefined();
    expect(await readObjectStore(id, outs)).toEqual({});
  });

  it.each([
    [{ bucket: "bad name" }, "bucket", /only letters/],
    [{ bucket: "OK", replicas: 0 }, "replicas", /1 to 5/],
    [{ bucket: "OK", history: 3 }, "history", /unknown object bucket setting/],
  ])("check rejects %j at %s", async (input, property, reason) => {
    const r = await checkObjectStore({}, { target: server.target, ...(input as { bucket: string }) });
    expect(r.failures).toEqual(expect.arrayContaining([expect.objectContaining({ property, reason: expect.stringMatching(reason) })]));
  });
});
