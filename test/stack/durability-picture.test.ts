/**
 * What the preview says about durability (components/stack/durability-picture.ts): at the
 * defaults every server fsyncs before it acks and nothing is warned about; every opt-in loss
 * window — a server at an interval, a stream with persist_mode async — is one warning naming the
 * server, the window and the way back. The same list is the stack's `durability` output.
 */
import { describe, expect, it } from "vitest";
import { lossWindow } from "../../components/config/durability";
import { parseJetStream } from "../../components/jetstream/spec";
import { durabilityPicture } from "../../components/stack/durability-picture";
import { parseTopology } from "../../components/topology/parse";
import { readStackConfig } from "../support/stack-config";

const prod = readStackConfig("prod");
const picture = (topologyEdit: (t: any) => void = () => {}, jetstreamEdit: (j: any) => void = () => {}) => {
  const t = JSON.parse(JSON.stringify(prod.topology));
  const j = JSON.parse(JSON.stringify(prod.jetstream));
  topologyEdit(t);
  jetstreamEdit(j);
  const topology = parseTopology(t, { name: "prod" });
  return durabilityPicture({ topology, jetstream: parseJetStream(j, topology) });
};

describe("the durability picture", () => {
  it("at the defaults: every server of prod at always, no warning", () => {
    const p = picture();
    expect(p.warnings).toEqual([]);
    expect(p.servers.map((s) => `${s.server}:${s.syncInterval}`)).toEqual([
      "nats-1:always", "nats-2:always", "nats-3:always", "cimstor:always", "nats-1-hub:always", "nats-2-hub:always", "nats-3-hub:always",
    ]);
    expect(p.servers[0].lossWindow).toBe("always: every acked write is fsynced first; a power failure loses none");
  });

  it("an opt-in interval on one host's leaf is one warning with its window and the way back", () => {
    const p = picture((t) => (t.hosts[1].jetstream = { leaf: { syncInterval: "1s" } }));
    expect(p.warnings).toEqual([
      "durability: leaf server nats-2 runs sync_interval 1s: a power failure or kernel crash can lose up to 1s of acked writes (opt-in loss window; set its syncInterval to 'always' to acknowledge only what is on disk; docs/durability.md)",
    ]);
    expect(p.servers.find((s) => s.server === "nats-2")?.lossWindow).toBe(lossWindow("1s").text);
  });

  it("the hub tier at an interval: a warning per member", () => {
    expect(picture((t) => (t.hub.jetstream = { ...t.hub.jetstream, syncInterval: "2m" })).warnings).toHaveLength(3);
  });

  it("a stream with persist_mode async: a warning per server it lives on, with the server's background interval", () => {
    const p = picture(undefined, (j) => (j.streams[0].persist_mode = "async"));
    expect(p.warnings).toHaveLength(4);
    expect(p.warnings[0]).toBe(
      "durability: stream PERSON_EVENTS on nats-1 has persist_mode async: acks come before the write, so a crash of the server can lose its newest acked writes and a power failure up to 2m of them (opt-in loss window; remove persist_mode to acknowledge only what is on disk; docs/durability.md)",
    );
  });
});
