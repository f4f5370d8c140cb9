/**
 * The Stream resource's functions against a real nats-server (JetStream domain "t1"):
 * CRUD, read/import, update-vs-replace, one-way settings, the data-loss guard, drift.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { JetStreamApiError } from "../../components/jetstream/api";
import { closeJetStreamConnections, pooledConnectionCount } from "../../components/jetstream/connection-pool";
import { DataLossError } from "../../components/jetstream/data-loss";
import {
  checkStream,
  createStream,
  deleteStream,
  diffStream,
  readStream,
  updateStream,
  type StreamArgs,
  type StreamOutputs,
} from "../../components/jetstream/stream";
import { streamInfo } from "../../components/jetstream/stream-requests";
import { natsCli, rawStreamEdit, startSingleServer, type SingleServer } from "../../harness/single-server";

let server: SingleServer;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startSingleServer({ domain: "t1" });
  nc = await connect({ servers: server.url });
});

afterAll(async () => {
  await nc?.close();
  await closeJetStreamConnections();
  await server?.stop();
});

const args = (over: Partial<StreamArgs> & { name: string }): StreamArgs => ({ target: server.target, ...over });

async function publish(subject: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await nc.request(subject, new TextEncoder().encode(`m${i}`), { timeout: 5000 });
    expect(JSON.parse(new TextDecoder().decode(r.data)).error).toBeUndefined();
  }
}

/** Create, then the same inputs diffed against the outputs (what a second `up` does). */
async function created(a: StreamArgs): Promise<{ id: string; outs: StreamOutputs }> {
  const r = await createStream(a);
  return r;
}

describe("create and read", () => {
  it("creates the stream with the declared settings and a prefixed id", async () => {
    const { id, outs } = await created(args({ name: "PERSON_EVENTS", subjects: ["person.events.>"], storage: "file", retention: "limits", max_age: "720h", num_replicas: 1 }));
    expect(id).toBe("stream:t1/PERSON_EVENTS");
    const info = await streamInfo(server.target, "PERSON_EVENTS");
    expect(info?.config.subjects).toEqual(["person.events.>"]);
    expect(info?.config.max_age).toBe(720 * 3600e9);
    expect(outs.max_age).toBe(720 * 3600e9);
    expect(outs.duplicate_window).toBe(120e9);
    expect(outs.metadata).toEqual({});
  });

  it("shows no diff on an unchanged second apply, before and after a refresh", async () => {
    const a = args({ name: "NODIFF", subjects: ["nodiff.>"], max_age: "1h", description: "d", metadata: { owner: "person" } });
    const { id, outs } = await created(a);
    expect(await diffStream(id, outs, a)).toMatchObject({ changes: false, replaces: [] });
    const refreshed = await readStream(id, outs);
    expect(refreshed.id).toBe(id);
    expect(await diffStream(id, refreshed.props!, a)).toMatchObject({ changes: false, replaces: [] });
  });

  it("reports a deleted stream as gone and treats deleting it again as success", async () => {
    const { id, outs } = await created(args({ name: "GONE", subjects: ["gone.>"] }));
    natsCli(server.url, ["stream", "rm", "GONE", "-f"]);
    expect(await readStream(id, outs)).toEqual({});
    await expect(deleteStream(id, outs)).resolves.toBeUndefined();
  });

  it("imports a stream created outside Pulumi with no diff against matching inputs", async () => {
    natsCli(server.url, ["stream", "add", "IMPORTED", "--subjects", "imported.>", "--storage", "file", "--retention", "limits", "--max-age", "2h", "--defaults"]);
    const program = args({ name: "IMPORTED", subjects: ["imported.>"], max_age: "2h", allow_direct: true });
    const read = await readStream("stream:t1/IMPORTED", program);
    expect(read.props?.max_age).toBe(2 * 3600e9);
    expect(await diffStream("stream:t1/IMPORTED", read.props!, program)).toMatchObject({ changes: false });
  });

  it("without adopt, refuses a different existing stream with the server's 10058 and says to adopt", async () => {
    natsCli(server.url, ["stream", "add", "EXISTING", "--subjects", "existing.>", "--max-age", "2h", "--defaults"]);
    await natsCli(server.url, ["pub", "existing.a", "x"]);
    const err = await createStream(args({ name: "EXISTING", subjects: ["existing.>"], max_age: "4h" })).catch((e) => e);
    expect((err as JetStreamApiError).errCode).toBe(10058);
    expect((err as Error).message).toMatch(/set adopt: true/);
  });

  it("adopts an existing stream with adopt: true, updating it in place and keeping its messages", async () => {
    const before = await streamInfo(server.target, "EXISTING");
    const { id, outs } = await createStream(args({ name: "EXISTING", subjects: ["existing.>"], max_age: "4h", adopt: true }));
    expect(id).toBe("stream:t1/EXISTING");
    expect(outs.max_age).toBe(4 * 3600e9);
    const after = await streamInfo(server.target, "EXISTING");
    expect(after?.state.messages).toBe(1);
    expect((after as unknown as { created: string }).created).toBe((before as unknown as { created: string }).created);
  });

  it("refuses to adopt a stream whose replace-only settings differ", async () => {
    await expect(createStream(args({ name: "EXISTING", subjects: ["existing.>"], storage: "memory", adopt: true }))).rejects.toThrow(/cannot adopt: storage cannot change.*declare the existing value/);
  });

  it("seals a stream at create (the server refuses sealed on create itself)", async () => {
    const { outs } = await created(args({ name: "SEALED", subjects: ["sealed.>"], sealed: true }));
    expect(outs.sealed).toBe(true);
    expect((await streamInfo(server.target, "SEALED"))?.config.sealed).toBe(true);
  });

  it("turns a source's domain into external.api $JS.<domain>.API", async () => {
    const { outs } = await created(args({ name: "AGG", sources: [{ name: "PERSON_EVENTS", domain: "nats-1" }, { name: "PERSON_EVENTS", domain: "nats-2" }] }));
    const info = await streamInfo(server.target, "AGG");
    expect(info?.config.subjects ?? []).toEqual([]);
    expect(info?.config.sources?.map((s) => s.external?.api)).toEqual(["$JS.nats-1.API", "$JS.nats-2.API"]);
    expect(outs.sources).toEqual([
      { name: "PERSON_EVENTS", external: { api: "$JS.nats-1.API" } },
      { name: "PERSON_EVENTS", external: { api: "$JS.nats-2.API" } },
    ]);
  });

  it("returns the server's error code, text and a fix for overlapping subjects", async () => {
    const err = await createStream(args({ name: "OVERLAP", subjects: ["person.events.created"] })).catch((e) => e);
    expect(err).toBeInstanceOf(JetStreamApiError);
    expect((err as JetStreamApiError).errCode).toBe(10065);
    expect((err as Error).message).toMatch(/10065.*subjects overlap.*change `subjects`/);
  });

  it("uses one pooled connection for all of it", () => {
    expect(pooledConnectionCount()).toBe(1);
  });

  it("says what to check when nothing answers in the target's domain", async () => {
    await expect(createStream({ target: { servers: [server.url], domain: "nope" }, name: "X", subjects: ["x"] })).rejects.toThrow(
      /no JetStream answers on \$JS\.nope\.API\.STREAM\.CREATE\.X \(domain nope\).*target\.domain/,
    );
  });

  it("says what to check when the servers cannot be reached", async () => {
    await expect(createStream({ target: { servers: ["nats://127.0.0.1:1"] }, name: "X" })).rejects.toThrow(/cannot connect to nats:\/\/127\.0\.0\.1:1.*target\.servers/);
  });
});

describe("update in place vs replace", () => {
  it("changes max_age in place: same stream, new limit", async () => {
    const a = args({ name: "INPLACE", subjects: ["inplace.>"], max_age: "720h" });
    const { id, outs } = await created(a);
    await publish("inplace.x", 3);
    const before = await streamInfo(server.target, "INPLACE");
    const b = { ...a, max_age: "24h" };
    expect(await diffStream(id, outs, b)).toMatchObject({ changes: true, replaces: [] });
    const { outs: after } = await updateStream(id, outs, b);
    expect(after.max_age).toBe(24 * 3600e9);
    const live = await streamInfo(server.target, "INPLACE");
    expect(live?.config.max_age).toBe(24 * 3600e9);
    expect(live?.state.messages).toBe(3);
    expect((live as unknown as { created: string }).created).toBe((before as unknown as { created: string }).created);
    expect(await diffStream(id, after, b)).toMatchObject({ changes: false });
  });

  it.each([
    ["subjects", { subjects: ["upd.>", "upd2.>"] }],
    ["num_replicas unchanged, description", { description: "new" }],
    ["retention limits → interest", { retention: "interest" as const }],
    ["max_msgs", { max_msgs: 100 }],
    ["discard", { discard: "new" as const }],
    ["compression", { compression: "s2" as const }],
    ["allow_direct", { allow_direct: true }],
    ["metadata", { metadata: { team: "person" } }],
    ["deny_delete on", { deny_delete: true }],
    ["allow_msg_ttl on", { allow_msg_ttl: true }],
    ["subject_delete_marker_ttl", { subject_delete_marker_ttl: "1m" }],
    ["duplicate_window", { duplicate_window: "30s" }],
    ["republish", { republish: { src: "upd.>", dest: "rp.>" } }],
  ])("updates %s in place", async (label, change) => {
    const name = `U_${label.replace(/[^A-Za-z0-9]/g, "_")}`;
    const a = args({ name, subjects: ["upd.>"] });
    const { id, outs } = await created(a);
    const b = { ...a, ...change } as StreamArgs;
    const d = await diffStream(id, outs, b);
    expect(d).toMatchObject({ changes: true, replaces: [] });
    const { outs: after } = await updateStream(id, outs, b);
    expect(await diffStream(id, after, b)).toMatchObject({ changes: false });
    const refreshed = await readStream(id, after);
    expect(await diffStream(id, refreshed.props!, b)).toMatchObject({ changes: false });
    await deleteStream(id, { ...after, allowDataLoss: true });
  });

  it.each([
    ["storage", { storage: "memory" as const }, ["storage"]],
    ["retention limits → workqueue", { retention: "workqueue" as const }, ["retention"]],
    ["allow_msg_counter", { allow_msg_counter: true }, ["allow_msg_counter"]],
    ["target domain", { target: { servers: ["nats://127.0.0.1:1"], domain: "other" } }, ["target"]],
  ])("replaces on %s (an empty stream: no guard)", async (_label, change, replaces) => {
    const a = args({ name: "REPL", subjects: ["repl.>"] });
    const { id, outs } = await created(a);
    expect(await diffStream(id, outs, { ...a, ...change } as StreamArgs)).toMatchObject({ changes: true, replaces, deleteBeforeReplace: true });
    await deleteStream(id, outs);
  });

  it("removes a mirror in place (promotion), but adding one replaces", async () => {
    const src = await created(args({ name: "MSRC", subjects: ["msrc.>"] }));
    const a = args({ name: "MIRROR", mirror: { name: "MSRC" } });
    const { id, outs } = await created(a);
    const promoted = { ...a, mirror: undefined, subjects: ["promoted.>"] };
    expect(await diffStream(id, outs, promoted)).toMatchObject({ changes: true, replaces: [] });
    const { outs: after } = await updateStream(id, outs, promoted);
    expect(after.mirror).toBeUndefined();
    expect((await streamInfo(server.target, "MIRROR"))?.config.mirror).toBeUndefined();
    expect(await diffStream(id, after, a)).toMatchObject({ replaces: ["mirror"] });
    await deleteStream(id, after);
    await deleteStream(src.id, src.outs);
  });

  it.each(["deny_delete", "deny_purge", "allow_msg_ttl", "sealed"] as const)("fails the diff when one-way %s is turned back off", async (key) => {
    const name = `ONEWAY_${key.toUpperCase()}`;
    const a = args({ name, subjects: [`${name.toLowerCase()}.>`], [key]: true });
    const { id, outs } = await created(a);
    expect(outs[key]).toBe(true);
    await expect(diffStream(id, outs, { ...a, [key]: false })).rejects.toThrow(new RegExp(`${key} is on and the server can never turn it off`));
    await expect(diffStream(id, outs, { ...a, [key]: undefined })).rejects.toThrow(/can never turn it off/);
  });
});

describe("data-loss guard", () => {
  it("refuses to delete a stream holding messages unless allowDataLoss", async () => {
    const a = args({ name: "GUARDED", subjects: ["guarded.>"] });
    const { id, outs } = await created(a);
    await publish("guarded.x", 5);
    const err = await deleteStream(id, outs).catch((e) => e);
    expect(err).toBeInstanceOf(DataLossError);
    expect((err as Error).message).toMatch(/holds 5 messages.*allowDataLoss: true/);
    expect((await streamInfo(server.target, "GUARDED"))?.state.messages).toBe(5);
    await deleteStream(id, { ...outs, allowDataLoss: true });
    expect(await streamInfo(server.target, "GUARDED")).toBeUndefined();
  });

  it("refuses a replacing change of a stream with data at preview; allowDataLoss approves it for the delete", async () => {
    const a = args({ name: "GUARDREPL", subjects: ["guardrepl.>"] });
    const { id, outs } = await created(a);
    await publish("guardrepl.x", 2);
    await expect(diffStream(id, outs, { ...a, storage: "memory" })).rejects.toThrow(/holds 2 messages; replacing it would lose them \(replaced because storage cannot change/);
    const ok = await diffStream(id, outs, { ...a, storage: "memory", allowDataLoss: true });
    expect(ok).toMatchObject({ replaces: ["storage"], deleteBeforeReplace: true });
    // Pulumi's delete of the replaced stream sees only the old outputs (allowDataLoss false).
    await deleteStream(id, outs);
    expect(await streamInfo(server.target, "GUARDREPL")).toBeUndefined();
  });

  it("deletes an empty stream without opting in", async () => {
    const { id, outs } = await created(args({ name: "EMPTY", subjects: ["empty.>"] }));
    await deleteStream(id, outs);
    expect(await streamInfo(server.target, "EMPTY")).toBeUndefined();
  });
});

describe("drift", () => {
  it("notices an out-of-band `nats stream edit` on refresh and puts the declared value back", async () => {
    const a = args({ name: "DRIFT", subjects: ["drift.>"], max_age: "720h" });
    const { id, outs } = await created(a);
    natsCli(server.url, ["stream", "edit", "DRIFT", "--max-age", "1h", "-f"]);
    const refreshed = await readStream(id, outs);
    expect(refreshed.props?.max_age).toBe(3600e9);
    expect(await diffStream(id, refreshed.props!, a)).toMatchObject({ changes: true, replaces: [] });
    const { outs: fixed } = await updateStream(id, refreshed.props!, a);
    expect(fixed.max_age).toBe(720 * 3600e9);
    expect((await streamInfo(server.target, "DRIFT"))?.config.max_age).toBe(720 * 3600e9);
  });

  it("resets an undeclared setting the server omits when unset (no_ack) after an out-of-band edit", async () => {
    const a = args({ name: "DRIFT3", subjects: ["drift3.>"] });
    const { id, outs } = await created(a);
    await rawStreamEdit(nc, "DRIFT3", { no_ack: true }, "t1");
    const refreshed = await readStream(id, outs);
    expect(refreshed.props?.no_ack).toBe(true);
    expect(await diffStream(id, refreshed.props!, a)).toMatchObject({ changes: true, replaces: [] });
    const { outs: fixed } = await updateStream(id, refreshed.props!, a);
    expect(fixed.no_ack).toBe(false);
    expect(await diffStream(id, (await readStream(id, fixed)).props!, a)).toMatchObject({ changes: false });
  });

  it("notices an out-of-band edit of a setting the inputs never named", async () => {
    const a = args({ name: "DRIFT2", subjects: ["drift2.>"] });
    const { id, outs } = await created(a);
    natsCli(server.url, ["stream", "edit", "DRIFT2", "--max-msgs", "10", "-f"]);
    const refreshed = await readStream(id, outs);
    expect(await diffStream(id, refreshed.props!, a)).toMatchObject({ changes: true });
    const { outs: fixed } = await updateStream(id, refreshed.props!, a);
    expect(fixed.max_msgs).toBe(-1);
  });
});

describe("check and ids", () => {
  it.each([
    [{ name: "a.b" }, "name", /cannot contain '\.'/],
    [{ name: "OK", subjects: ["a..b"] }, "subjects[0]", /empty token/],
    [{ name: "OK", max_age: "30 days" }, "max_age", /not a duration/],
    [{ name: "OK", storage: "disk" }, "storage", /must be one of file, memory/],
    [{ name: "OK", num_replicas: 7 }, "num_replicas", /1 to 5/],
    [{ name: "OK", mirror: { name: "X" }, subjects: ["a"] }, "subjects", /mirror cannot have subjects/],
    [{ name: "OK", sources: [{ name: "X", domain: "d", external: { api: "$JS.d.API" } }] }, "sources[0].domain", /not both/],
    [{ name: "OK", metadata: { "_nats.ver": "x" } }, "metadata._nats.ver", /reserved/],
    [{ name: "OK", maxAge: "1h" }, "maxAge", /unknown stream setting 'maxAge'/],
  ])("check rejects %j at %s", async (input, property, reason) => {
    const r = await checkStream({}, { target: server.target, ...(input as { name: string }) });
    expect(r.failures).toEqual(expect.arrayContaining([expect.objectContaining({ property, reason: expect.stringMatching(reason) })]));
  });

  it("check accepts a valid stream", async () => {
    const r = await checkStream({}, args({ name: "OK", subjects: ["ok.>"], max_age: "720h", sources: [{ name: "X", domain: "nats-1" }] }));
    expect(r.failures).toEqual([]);
  });

  it.each(["PERSON_EVENTS", "stream:", "stream:t1", "kv:t1/X", "stream:t1/"])("read rejects malformed id %j with the expected format", async (id) => {
    await expect(readStream(id, { target: server.target })).rejects.toThrow(/malformed stream id.*expected stream:<domain>\/<stream>/);
  });
});
