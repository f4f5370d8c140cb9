/**
 * Durable consumers against a real nats-server (domain "t4"): pull and push CRUD, import,
 * update-vs-replace rules taken from what the server refuses, drift, and that the consumer
 * actually delivers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream } from "@nats-io/jetstream";
import { closeJetStreamConnections } from "../../components/jetstream/connection-pool";
import {
  checkConsumer,
  consumerInfo,
  createConsumer,
  deleteConsumer,
  diffConsumer,
  readConsumer,
  updateConsumer,
  type ConsumerArgs,
} from "../../components/jetstream/consumer";
import { createStream } from "../../components/jetstream/stream";
import { natsCli, startSingleServer, type SingleServer } from "../../harness/single-server";

let server: SingleServer;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startSingleServer({ domain: "t4" });
  nc = await connect({ servers: server.url });
  await createStream({ target: server.target, name: "EVENTS", subjects: ["person.events.>", "order.events.>"] });
});

afterAll(async () => {
  await nc?.close();
  await closeJetStreamConnections();
  await server?.stop();
});

const cArgs = (over: Partial<ConsumerArgs> & { name: string }): ConsumerArgs => ({ target: server.target, stream: "EVENTS", ...over });

describe("consumer", () => {
  it("creates a durable pull consumer that delivers the filtered events", async () => {
    const a = cArgs({ name: "person-projection", ack_policy: "explicit", deliver_policy: "all", filter_subjects: ["person.events.>"] });
    const { id, outs } = await createConsumer(a);
    expect(id).toBe("consumer:t4/EVENTS/person-projection");
    expect(outs).toMatchObject({ durable_name: "person-projection", ack_wait: 30e9, max_ack_pending: 1000, max_waiting: 512, filter_subject: "person.events.>" });
    const js = jetstream(nc);
    await js.publish("person.events.created", "p1");
    await js.publish("order.events.created", "o1");
    const c = await js.consumers.get("EVENTS", "person-projection");
    const m = await c.next({ expires: 2000 });
    expect(m?.subject).toBe("person.events.created");
    m?.ack();
    expect(await diffConsumer(id, outs, a)).toMatchObject({ changes: false, replaces: [] });
    const r = await readConsumer(id, outs);
    expect(await diffConsumer(id, r.props!, a)).toMatchObject({ changes: false });
  });

  it("creates a push consumer", async () => {
    const a = cArgs({ name: "push-audit", deliver_subject: "audit.deliver", ack_policy: "explicit", deliver_group: "audit" });
    const { outs } = await createConsumer(a);
    expect(outs.deliver_subject).toBe("audit.deliver");
    expect((await consumerInfo(server.target, "EVENTS", "push-audit"))?.config.deliver_group).toBe("audit");
  });

  it("imports a consumer made by the nats CLI with no diff", async () => {
    natsCli(server.url, ["consumer", "add", "EVENTS", "cli-pull", "--pull", "--ack", "explicit", "--deliver", "all", "--filter", "order.events.>", "--replay", "instant", "--max-deliver=-1", "--max-pending=1000", "--no-headers-only", "--backoff", "none", "--defaults"]);
    const program = cArgs({ name: "cli-pull", ack_policy: "explicit", filter_subject: "order.events.>" });
    const r = await readConsumer("consumer:t4/EVENTS/cli-pull", program);
    expect(await diffConsumer("consumer:t4/EVENTS/cli-pull", r.props!, program)).toMatchObject({ changes: false });
  });

  it("adopts an existing consumer with adopt: true and refuses one whose ack policy differs", async () => {
    natsCli(server.url, ["consumer", "add", "EVENTS", "cli-adopt", "--pull", "--ack", "explicit", "--deliver", "all", "--replay", "instant", "--max-deliver=-1", "--max-pending=1000", "--backoff", "none", "--defaults"]);
    const { outs } = await createConsumer(cArgs({ name: "cli-adopt", ack_policy: "explicit", max_ack_pending: 20, adopt: true }));
    expect(outs.max_ack_pending).toBe(20);
    expect((await consumerInfo(server.target, "EVENTS", "cli-adopt"))?.config.max_ack_pending).toBe(20);
    await expect(createConsumer(cArgs({ name: "cli-adopt", ack_policy: "all", adopt: true }))).rejects.toThrow(/cannot adopt: ack_policy/);
  });

  it.each([
    ["ack_wait", { ack_wait: "10s" }],
    ["max_deliver + backoff", { max_deliver: 5, backoff: ["1s", "5s"] }],
    ["filter_subjects", { filter_subjects: ["person.events.created", "person.events.deleted"] }],
    ["max_ack_pending", { max_ack_pending: 50 }],
    ["description", { description: "d" }],
    ["metadata", { metadata: { a: "b" } }],
    ["inactive_threshold", { inactive_threshold: "1h" }],
    ["headers_only", { headers_only: true }],
    ["max_batch", { max_batch: 10 }],
  ])("updates %s in place", async (label, change) => {
    const name = `upd-${label.replace(/[^a-z]/g, "-")}`;
    const a = cArgs({ name, ack_policy: "explicit", filter_subject: "person.events.>" });
    const { id, outs } = await createConsumer(a);
    const b = { ...a, ...change } as ConsumerArgs;
    if ("filter_subjects" in change) delete (b as { filter_subject?: string }).filter_subject;
    expect(await diffConsumer(id, outs, b)).toMatchObject({ changes: true, replaces: [] });
    const { outs: after } = await updateConsumer(id, outs, b);
    expect(await diffConsumer(id, after, b)).toMatchObject({ changes: false });
    expect(await diffConsumer(id, (await readConsumer(id, after)).props!, b)).toMatchObject({ changes: false });
  });

  it.each([
    ["deliver_policy", { deliver_policy: "new" as const }, ["deliver_policy"]],
    ["ack_policy", { ack_policy: "all" as const }, ["ack_policy"]],
    ["replay_policy", { replay_policy: "original" as const }, ["replay_policy"]],
    ["max_waiting", { max_waiting: 10 }, ["max_waiting"]],
    ["mem_storage", { mem_storage: true }, ["mem_storage"]],
    ["pull → push", { deliver_subject: "x.deliver" }, ["max_waiting", "deliver_subject"]],
    ["stream", { stream: "OTHER" }, ["stream"]],
  ])("replaces on %s", async (_label, change, replaces) => {
    const a = cArgs({ name: "repl", ack_policy: "explicit" });
    const { id, outs } = await createConsumer(a);
    expect(await diffConsumer(id, outs, { ...a, ...change } as ConsumerArgs)).toMatchObject({ changes: true, replaces, deleteBeforeReplace: true });
    await deleteConsumer(id, outs);
  });

  it("the server really refuses what the diff replaces (deliver_policy)", async () => {
    const a = cArgs({ name: "refuse", ack_policy: "explicit" });
    const { id, outs } = await createConsumer(a);
    await expect(updateConsumer(id, outs, { ...a, deliver_policy: "new" })).rejects.toThrow(/10012.*deliver policy can not be updated/);
  });

  it("notices an out-of-band delete and deletion of a missing consumer succeeds", async () => {
    const a = cArgs({ name: "drift", ack_policy: "explicit" });
    const { id, outs } = await createConsumer(a);
    natsCli(server.url, ["consumer", "rm", "EVENTS", "drift", "-f"]);
    expect(await readConsumer(id, outs)).toEqual({});
    await expect(deleteConsumer(id, outs)).resolves.toBeUndefined();
  });

  it.each([
    [{ name: "a.b" }, "name", /cannot contain/],
    [{ name: "ok", ack_policy: "sometimes" }, "ack_policy", /must be one of/],
    [{ name: "ok", backoff: ["1s", "2s"], max_deliver: 2 }, "max_deliver", /greater than its 2 steps/],
    [{ name: "ok", filter_subject: "a", filter_subjects: ["b"] }, "filter_subjects", /not both/],
    [{ name: "ok", deliver_policy: "by_start_sequence" }, "opt_start_seq", /needs opt_start_seq/],
    [{ name: "ok", max_waiting: 5, deliver_subject: "d" }, "max_waiting", /pull consumers/],
    [{ name: "ok", flow_control: true }, "flow_control", /push consumers/],
  ])("check rejects %j at %s", async (input, property, reason) => {
    const r = await checkConsumer({}, { target: server.target, stream: "EVENTS", ...(input as { name: string }) });
    expect(r.failures).toEqual(expect.arrayContaining([expect.objectContaining({ property, reason: expect.stringMatching(reason) })]));
  });
});
