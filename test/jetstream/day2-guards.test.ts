/**
 * Day-2 guards of the JetStream resources against a real nats-server (domain "d2"):
 * - the removal guard refuses, at check time (what `preview` runs), removing a store that holds
 *   messages, allows empty ones and `allowDataLoss`, and deletes removed leaf stores in its update;
 * - a store wiped behind the stack's back (the server lost its store) shows in every resource's
 *   diff without a refresh, and update creates it again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { closeJetStreamConnections } from "../../components/jetstream/connection-pool";
import { createConsumer, diffConsumer, updateConsumer, consumerInfo, type ConsumerArgs } from "../../components/jetstream/consumer";
import { createKv, diffKv, updateKv } from "../../components/jetstream/kv";
import { createKvEntry, diffKvEntry, getKvEntry, updateKvEntry } from "../../components/jetstream/kv-entry";
import { createObjectStore, diffObjectStore, updateObjectStore } from "../../components/jetstream/object-store";
import { checkRemovalGuard, removedStores, updateRemovalGuard, type RemovalGuardInputs, type StoreRef } from "../../components/jetstream/removal-guard";
import { deleteTeardownGate } from "../../components/jetstream/teardown-gate";
import { dataLossAllowed, domainGoing } from "../../components/jetstream/data-loss";
import { valueHash } from "../../components/jetstream/user-data";
import { Kvm } from "@nats-io/kv";
import { createStream, diffStream, updateStream, type StreamArgs } from "../../components/jetstream/stream";
import { streamInfo } from "../../components/jetstream/stream-requests";
import { startSingleServer, type SingleServer } from "../../harness/single-server";

let server: SingleServer;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  server = await startSingleServer({ domain: "d2" });
  nc = await connect({ servers: server.url });
  jsm = await jetstreamManager(nc, { domain: "d2" });
});

afterAll(async () => {
  await nc?.close();
  await closeJetStreamConnections();
  await server?.stop();
});

const stream = (name: string, subjects: string[]): StreamArgs => ({ target: server.target, name, subjects, storage: "file" });
const ref = (kind: StoreRef["kind"], name: string): StoreRef => ({ kind, name, domain: "d2", level: "leaf" });
const guard = (stores: StoreRef[], allowDataLoss = false): RemovalGuardInputs => ({ stores, targets: { d2: server.target }, allowDataLoss });

describe("removal guard", () => {
  it("removedStores: what the new declaration no longer has, by kind, domain and name", () => {
    const before = [ref("stream", "A"), ref("kv", "A"), { ...ref("stream", "B"), domain: "other" }];
    expect(removedStores(before, [ref("kv", "A")])).toEqual([ref("stream", "A"), { ...ref("stream", "B"), domain: "other" }]);
  });

  it("refuses at check time to remove a stream holding messages, naming it, the count and the fix", async () => {
    await createStream(stream("ORDERS_G", ["orders.g.>"]));
    for (let i = 0; i < 3; i++) await nc.request("orders.g.created", new TextEncoder().encode(`${i}`));
    const olds = guard([ref("stream", "ORDERS_G"), ref("stream", "KEEP")]);
    const { failures } = await checkRemovalGuard(olds, guard([ref("stream", "KEEP")]));
    expect(failures).toHaveLength(1);
    // No property: Pulumi prints the reason alone, not a dump of the `stores` value.
    expect(failures![0].property).toBe("");
    expect(failures![0].reason).toMatch(/^stream ORDERS_G at leaf d2 holds 3 messages; removing it \(it was removed from cim-nats:jetstream\) would delete them\. Nothing was changed\. Fix: .*allowDataLoss/);
    // allowDataLoss lets it through; the store is untouched by check either way.
    expect((await checkRemovalGuard(olds, guard([ref("stream", "KEEP")], true))).failures).toEqual([]);
    expect((await streamInfo(server.target, "ORDERS_G"))?.state.messages).toBe(3);
  });

  it("lets an empty store go, and its update deletes removed leaf stores before anything else changes", async () => {
    await createStream(stream("EMPTY_G", ["empty.g.>"]));
    await createKv({ target: server.target, bucket: "GONE_KV" });
    const olds = guard([ref("stream", "EMPTY_G"), ref("kv", "GONE_KV")]);
    expect((await checkRemovalGuard(olds, guard([]))).failures).toEqual([]);
    await updateRemovalGuard("jetstream-removal-guard", olds, guard([]));
    expect(await streamInfo(server.target, "EMPTY_G")).toBeUndefined();
    expect(await streamInfo(server.target, "KV_GONE_KV")).toBeUndefined();
  });

  it("keeps a store that holds data even when update is reached without check (the data-loss guard holds)", async () => {
    await createStream(stream("FULL_G", ["full.g.>"]));
    await nc.request("full.g.x", new TextEncoder().encode("x"));
    await expect(updateRemovalGuard("jetstream-removal-guard", guard([ref("stream", "FULL_G")]), guard([]))).rejects.toThrow(/holds 1 message/);
    expect((await streamInfo(server.target, "FULL_G"))?.state.messages).toBe(1);
  });

  it("does not refuse what it cannot ask (a removed host's server already gone)", async () => {
    const olds: RemovalGuardInputs = { stores: [{ ...ref("stream", "X"), domain: "dead" }], targets: { dead: { servers: ["nats://127.0.40.254:4"], domain: "dead" } }, allowDataLoss: false };
    expect((await checkRemovalGuard(olds, guard([]))).failures).toEqual([]);
  });
});

describe("whole refusals: replacements, user data, teardown", () => {
  it("refuses at check time to replace a store holding data (storage file → memory), naming resource, server, count and fix", async () => {
    await createStream(stream("REPL_G", ["repl.g.>"]));
    await nc.request("repl.g.x", new TextEncoder().encode("x"));
    const declared = (storage: string): StoreRef => ({ ...ref("stream", "REPL_G"), resource: "stream-REPL_G-d2", servers: ["leaf-d2"], config: { name: "REPL_G", subjects: ["repl.g.>"], storage } });
    const { failures } = await checkRemovalGuard(guard([declared("file")]), guard([declared("memory")]));
    expect(failures).toHaveLength(1);
    expect(failures![0].reason).toMatch(/^stream REPL_G at leaf leaf-d2 \(resource stream-REPL_G-d2\) holds 1 message; replacing it \(storage cannot change after creation \("file" → "memory"\)\) would delete them\. Nothing was changed\. Fix: revert that change/);
    // An in-place change is no refusal; allowDataLoss approves the replacement for the store's own delete.
    expect((await checkRemovalGuard(guard([declared("file")]), guard([{ ...declared("file"), config: { name: "REPL_G", subjects: ["repl.g.>", "repl.h.>"], storage: "file" } }]))).failures).toEqual([]);
    expect(dataLossAllowed("stream:d2/REPL_G", false)).toBe(false);
    expect((await checkRemovalGuard(guard([declared("file")]), guard([declared("memory")], true))).failures).toEqual([]);
    expect(dataLossAllowed("stream:d2/REPL_G", false)).toBe(true);
  });

  it("a KV bucket holding only its declared entries and delete/purge markers holds no user data; any other key does", async () => {
    await createKv({ target: server.target, bucket: "RETIRE_KV", history: 5 });
    const kv = await new Kvm(nc).open("RETIRE_KV");
    await kv.put("domain.name", "Person Domain");
    await kv.put("scratch", "x");
    await kv.delete("scratch");
    await kv.put("wiped", "y");
    await kv.purge("wiped");
    const bucket = (entries: Record<string, string>): StoreRef => ({ ...ref("kv", "RETIRE_KV"), entries });
    const declared = bucket({ "domain.name": valueHash("Person Domain") });
    expect((await checkRemovalGuard(guard([declared]), guard([]))).failures).toEqual([]);
    // …and its delete is approved for the run: the store's own guard counts raw messages.
    expect(dataLossAllowed("kv:d2/RETIRE_KV", false)).toBe(true);
    // The same value under a key the stack does not declare is the user's.
    const { failures } = await checkRemovalGuard(guard([bucket({})]), guard([]));
    expect(failures![0].reason).toMatch(/^KV bucket RETIRE_KV at leaf d2 holds 1 message;/);
    await kv.put("user.key", "z");
    expect((await checkRemovalGuard(guard([declared]), guard([]))).failures![0].reason).toMatch(/holds 1 message;/);
  });

  it("the teardown gate refuses a destroy whole while a store holds data, and otherwise lets every store go, even from a server that is down", async () => {
    await createStream(stream("TEAR_G", ["tear.g.>"]));
    await nc.request("tear.g.x", new TextEncoder().encode("x"));
    const dead = { servers: ["nats://127.0.130.254:4"], domain: "gone" };
    const gate = (allowDataLoss: boolean) => ({ stores: [ref("stream", "TEAR_G"), { ...ref("stream", "ELSEWHERE"), domain: "gone" }], targets: { d2: server.target, gone: dead }, allowDataLoss });
    const refused = await deleteTeardownGate("jetstream-teardown-gate", gate(false)).then(() => undefined, (e: Error) => e);
    expect(refused?.message.split("\n")).toEqual([
      expect.stringMatching(/^stream TEAR_G at leaf d2 holds 1 message; destroying the stack would delete them\. Nothing was deleted\. Fix: /),
      expect.stringMatching(/^stream ELSEWHERE at leaf gone cannot be asked whether it holds data .* Fix: start them/),
    ]);
    expect(refused?.stack).toBe("[cim-nats refusal]");
    expect(domainGoing("gone")).toBe(false);
    await deleteTeardownGate("jetstream-teardown-gate", gate(true));
    expect(domainGoing("gone")).toBe(true);
    // The store on the dead server goes with its host; the one holding data may go too.
    const { deleteStream } = await import("../../components/jetstream/stream");
    await deleteStream("stream:gone/ELSEWHERE", { name: "ELSEWHERE", target: dead, allowDataLoss: false } as never);
    await deleteStream("stream:d2/TEAR_G", { name: "TEAR_G", target: server.target, allowDataLoss: false } as never);
    expect(await streamInfo(server.target, "TEAR_G")).toBeUndefined();
  });
});

describe("a wiped store is seen by diff and recreated by update (no refresh)", () => {
  it("stream", async () => {
    const args = stream("WIPED_S", ["wiped.s.>"]);
    const { id, outs } = await createStream(args);
    expect((await diffStream(id, outs, args)).changes).toBe(false);
    await jsm.streams.delete("WIPED_S");
    expect((await diffStream(id, outs, args)).changes).toBe(true);
    await updateStream(id, outs, args);
    expect((await streamInfo(server.target, "WIPED_S"))?.config.subjects).toEqual(["wiped.s.>"]);
    expect((await diffStream(id, outs, args)).changes).toBe(false);
  });

  it("KV bucket and its entry", async () => {
    const kvArgs = { target: server.target, bucket: "WIPED_KV", history: 2 };
    const kv = await createKv(kvArgs);
    const entryArgs = { target: server.target, bucket: "WIPED_KV", key: "k", value: "v" };
    const entry = await createKvEntry(entryArgs);
    await jsm.streams.delete("KV_WIPED_KV");
    expect((await diffKv(kv.id, kv.outs, kvArgs)).changes).toBe(true);
    await updateKv(kv.id, kv.outs, kvArgs);
    expect((await diffKvEntry(entry.id, entry.outs, entryArgs)).changes).toBe(true);
    await updateKvEntry(entry.id, entry.outs, entryArgs);
    expect((await getKvEntry(server.target, "WIPED_KV", "k"))?.value).toBe("v");
  });

  it("object bucket", async () => {
    const args = { target: server.target, bucket: "WIPED_OBJ" };
    const o = await createObjectStore(args);
    await jsm.streams.delete("OBJ_WIPED_OBJ");
    expect((await diffObjectStore(o.id, o.outs, args)).changes).toBe(true);
    await updateObjectStore(o.id, o.outs, args);
    expect(await streamInfo(server.target, "OBJ_WIPED_OBJ")).toBeDefined();
  });

  it("consumer", async () => {
    await createStream(stream("WIPED_C", ["wiped.c.>"]));
    const args: ConsumerArgs = { target: server.target, stream: "WIPED_C", name: "reader", ack_policy: "explicit" } as ConsumerArgs;
    const c = await createConsumer(args);
    await jsm.consumers.delete("WIPED_C", "reader");
    expect((await diffConsumer(c.id, c.outs, args)).changes).toBe(true);
    await updateConsumer(c.id, c.outs, args);
    expect(await consumerInfo(server.target, "WIPED_C", "reader")).toBeDefined();
  });

  it("a server that cannot be asked is not drift", async () => {
    const args = stream("WIPED_S", ["wiped.s.>"]);
    const { id, outs } = await createStream(stream("UNASKED", ["unasked.>"]));
    const unreachable = { ...args, name: "UNASKED", subjects: ["unasked.>"], target: { servers: ["nats://127.0.40.254:4"], domain: "d2" } };
    const d = await diffStream(id, { ...outs, target: unreachable.target }, unreachable);
    expect(d.changes).toBe(false);
  });
});
