/**
 * KV buckets and KV entries against a real nats-server (JetStream domain "t2"): CRUD, import of
 * a `nats kv add` bucket, in-place updates (history, ttl, replicas never replace), the data-loss
 * guard, entry put/get through the provider and through the KV client.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { Kvm } from "@nats-io/kv";
import { closeJetStreamConnections } from "../../components/jetstream/connection-pool";
import { DataLossError } from "../../components/jetstream/data-loss";
import { checkKv, createKv, deleteKv, diffKv, readKv, updateKv, type KvArgs } from "../../components/jetstream/kv";
import {
  checkKvEntry,
  createKvEntry,
  deleteKvEntry,
  diffKvEntry,
  getKvEntry,
  readKvEntry,
  updateKvEntry,
} from "../../components/jetstream/kv-entry";
import { streamInfo } from "../../components/jetstream/stream-requests";
import { natsCli, rawStreamEdit, startSingleServer, type SingleServer } from "../../harness/single-server";

let server: SingleServer;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startSingleServer({ domain: "t2" });
  nc = await connect({ servers: server.url });
});

afterAll(async () => {
  await nc?.close();
  await closeJetStreamConnections();
  await server?.stop();
});

const kvArgs = (over: Partial<KvArgs> & { bucket: string }): KvArgs => ({ target: server.target, ...over });

describe("KV bucket", () => {
  it("creates the bucket's stream the way the KV clients expect it", async () => {
    const { id, outs } = await createKv(kvArgs({ bucket: "PERSON_METADATA", history: 5 }));
    expect(id).toBe("kv:t2/PERSON_METADATA");
    expect(outs.history).toBe(5);
    const info = await streamInfo(server.target, "KV_PERSON_METADATA");
    expect(info?.config).toMatchObject({ subjects: ["$KV.PERSON_METADATA.>"], max_msgs_per_subject: 5, allow_rollup_hdrs: true, deny_delete: true, allow_direct: true, discard: "new" });
    // The KV client opens it and sees the same settings.
    const kv = await new Kvm(nc).open("PERSON_METADATA");
    expect((await kv.status()).history).toBe(5);
  });

  it("shows no diff on an unchanged second apply, before and after a refresh", async () => {
    const a = kvArgs({ bucket: "NODIFF", history: 3, ttl: "1h", description: "x", metadata: { a: "b" }, compression: true });
    const { id, outs } = await createKv(a);
    expect(await diffKv(id, outs, a)).toMatchObject({ changes: false, replaces: [] });
    const r = await readKv(id, outs);
    expect(await diffKv(id, r.props!, a)).toMatchObject({ changes: false, replaces: [] });
  });

  it("imports a bucket made by `nats kv add` with no diff", async () => {
    natsCli(server.url, ["kv", "add", "CLIKV", "--history", "4", "--ttl", "30s"]);
    const program = kvArgs({ bucket: "CLIKV", history: 4, ttl: "30s" });
    const r = await readKv("kv:t2/CLIKV", program);
    expect(r.props).toMatchObject({ bucket: "CLIKV", history: 4, ttl: 30e9 });
    expect(await diffKv("kv:t2/CLIKV", r.props!, program)).toMatchObject({ changes: false });
  });

  it("adopts a `nats kv add` bucket with adopt: true, keeping its entries", async () => {
    natsCli(server.url, ["kv", "add", "ADOPTED", "--history", "2"]);
    natsCli(server.url, ["kv", "put", "ADOPTED", "k", "v"]);
    const { outs } = await createKv(kvArgs({ bucket: "ADOPTED", history: 6, adopt: true }));
    expect(outs.history).toBe(6);
    expect((await getKvEntry(server.target, "ADOPTED", "k"))?.value).toBe("v");
  });

  it.each([
    ["history", { history: 10 }],
    ["ttl", { ttl: "2h" }],
    ["max_value_size", { max_value_size: 4096 }],
    ["compression", { compression: true }],
    ["description", { description: "now described" }],
    ["metadata", { metadata: { owner: "person" } }],
  ])("changes %s in place, keeping the entries", async (label, change) => {
    const bucket = `INPLACE_${label.toUpperCase()}`;
    const a = kvArgs({ bucket, history: 2 });
    const { id, outs } = await createKv(a);
    await createKvEntry({ target: server.target, bucket, key: "k", value: "v" });
    const b = { ...a, ...change } as KvArgs;
    expect(await diffKv(id, outs, b)).toMatchObject({ changes: true, replaces: [] });
    const { outs: after } = await updateKv(id, outs, b);
    expect(await diffKv(id, after, b)).toMatchObject({ changes: false });
    expect((await getKvEntry(server.target, bucket, "k"))?.value).toBe("v");
  });

  it("treats a replicas change as an update, never a replace", async () => {
    const a = kvArgs({ bucket: "REPLICAS", replicas: 1 });
    const { id, outs } = await createKv(a);
    expect(await diffKv(id, outs, { ...a, replicas: 3 })).toMatchObject({ changes: true, replaces: [] });
  });

  it("replaces on storage, behind the data-loss guard", async () => {
    const a = kvArgs({ bucket: "GUARDED" });
    const { id, outs } = await createKv(a);
    await createKvEntry({ target: server.target, bucket: "GUARDED", key: "k", value: "v" });
    await expect(diffKv(id, outs, { ...a, storage: "memory" })).rejects.toThrow(DataLossError);
    expect(await diffKv(id, outs, { ...a, storage: "memory", allowDataLoss: true })).toMatchObject({ replaces: ["storage"], deleteBeforeReplace: true });
    await expect(deleteKv("kv:t2/OTHER", { ...outs, bucket: "GUARDED" })).rejects.toThrow(/holds 1 message.*allowDataLoss/);
    await deleteKv(id, outs); // approved by the diff above
    expect(await streamInfo(server.target, "KV_GUARDED")).toBeUndefined();
  });

  it("notices out-of-band deletion and edits", async () => {
    const a = kvArgs({ bucket: "DRIFT", history: 2 });
    const { id, outs } = await createKv(a);
    await rawStreamEdit(nc, "KV_DRIFT", { max_msgs_per_subject: 7 });
    const r = await readKv(id, outs);
    expect(r.props?.history).toBe(7);
    expect(await diffKv(id, r.props!, a)).toMatchObject({ changes: true, replaces: [] });
    natsCli(server.url, ["kv", "del", "DRIFT", "-f"]);
    expect(await readKv(id, outs)).toEqual({});
    await expect(deleteKv(id, outs)).resolves.toBeUndefined();
  });

  it.each([
    [{ bucket: "a.b" }, "bucket", /only letters, digits/],
    [{ bucket: "OK", history: 0 }, "history", /1 to 64/],
    [{ bucket: "OK", ttl: "forever" }, "ttl", /not a duration/],
    [{ bucket: "OK", compression: "s2" }, "compression", /true \(s2\) or false/],
    [{ bucket: "OK", max_age: "1h" }, "max_age", /unknown KV bucket setting/],
  ])("check rejects %j at %s", async (input, property, reason) => {
    const r = await checkKv({}, { target: server.target, ...(input as { bucket: string }) });
    expect(r.failures).toEqual(expect.arrayContaining([expect.objectContaining({ property, reason: expect.stringMatching(reason) })]));
  });
});

describe("KV entry", () => {
  it("puts an entry the KV client reads, and reads back what the client writes", async () => {
    await createKv(kvArgs({ bucket: "ENTRIES", history: 5 }));
    const e = { target: server.target, bucket: "ENTRIES", key: "domain.name", value: "Person Domain" };
    const { id, outs } = await createKvEntry(e);
    expect(id).toBe("kv-entry:t2/ENTRIES/domain.name");
    const kv = await new Kvm(nc).open("ENTRIES");
    expect((await kv.get("domain.name"))?.string()).toBe("Person Domain");
    expect(await diffKvEntry(id, outs, e)).toMatchObject({ changes: false });

    await kv.put("domain.name", "Changed Behind Our Back");
    const r = await readKvEntry(id, outs);
    expect(r.props?.value).toBe("Changed Behind Our Back");
    expect(await diffKvEntry(id, r.props!, e)).toMatchObject({ changes: true, replaces: [] });
    const { outs: fixed } = await updateKvEntry(id, r.props!, e);
    expect((await kv.get("domain.name"))?.string()).toBe("Person Domain");
    expect(fixed.revision).toBeGreaterThan(outs.revision);
  });

  it("deletes with a marker, after which read reports it gone", async () => {
    const e = { target: server.target, bucket: "ENTRIES", key: "gone.soon", value: "x" };
    const { id, outs } = await createKvEntry(e);
    await deleteKvEntry(id, outs);
    expect(await readKvEntry(id, outs)).toEqual({});
    const kv = await new Kvm(nc).open("ENTRIES");
    expect((await kv.get("gone.soon"))?.operation).toBe("DEL");
  });

  it("replaces when the key changes", async () => {
    const e = { target: server.target, bucket: "ENTRIES", key: "a", value: "x" };
    const { id, outs } = await createKvEntry(e);
    expect(await diffKvEntry(id, outs, { ...e, key: "b" })).toMatchObject({ replaces: ["key"] });
  });

  it("fails a put into a missing bucket with what to check", async () => {
    await expect(createKvEntry({ target: server.target, bucket: "NOPE", key: "k", value: "v" })).rejects.toThrow(/bucket exists/);
  });

  it.each([
    [{ key: ".lead" }, "key", /cannot start or end/],
    [{ key: "has space" }, "key", /only letters/],
    [{ value: 5 }, "value", /string/],
  ])("check rejects %j", async (over, property, reason) => {
    const r = await checkKvEntry({}, { target: server.target, bucket: "ENTRIES", key: "k", value: "v", ...(over as object) } as never);
    expect(r.failures).toEqual(expect.arrayContaining([expect.objectContaining({ property, reason: expect.stringMatching(reason) })]));
  });
});
