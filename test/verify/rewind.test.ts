/**
 * The rewind finder's logic over plain arrays (the readers the probe passes read real streams;
 * test/durability/sequence-rewind.test.ts runs it against real servers): index names as
 * nats-server composes them, and the resume point after a leaf lost its tail or was restored.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { epochTransforms, isEpochSpelling } from "../../components/jetstream/aggregate";
import { findRewind, parseStreamSource, sourceIndexName, streamIdentity, type Reader, type StoredEvent } from "../../components/verify/rewind";

const sha256 = (v: string) => createHash("sha256").update(v).digest();
const enc = new TextEncoder();

describe("source index names", () => {
  it("match what nats-server wrote into Nats-Stream-Source (seen on 2.15.2)", () => {
    const plain = sourceIndexName({ name: "PERSON_EVENTS", external: { api: "$JS.l1.API" } }, sha256);
    expect(plain).toBe("PERSON_EVENTS:2Y1qJMo5 > >");
    expect(parseStreamSource("PERSON_EVENTS:2Y1qJMo5 300 > > person.events.a 4AWlWHrX")).toEqual({ indexName: plain, seq: 300, ident: "4AWlWHrX" });
    const epoch1 = sourceIndexName({ name: "PERSON_EVENTS", external: { api: "$JS.l1.API" }, subject_transforms: epochTransforms(1) }, sha256);
    expect(parseStreamSource("PERSON_EVENTS:2Y1qJMo5 301 *\f*.> >\f> person.events.b 4AWlWHrX")).toEqual({ indexName: epoch1, seq: 301, ident: "4AWlWHrX" });
    // The identity is the hash of the stream's creation time as STREAM.INFO spells it (seen: E created 2026-12-07T18:37:00.596511827Z → tznaXSy4).
    expect(streamIdentity("2026-12-07T18:37:00.596511827Z", sha256)).toBe("tznaXSy4");
  });

  it.each([1, 2, 3])("epoch %i: disjoint filters that together match every subject, unchanged", (n) => {
    const t = epochTransforms(n);
    expect(t).toHaveLength(n + 1);
    expect(t.every((x) => x.dest === "")).toBe(true);
    expect(isEpochSpelling(t)).toBe(true);
    const tokens = (k: number) => Array(k).fill("*").join(".");
    expect(t.map((x) => x.src)).toEqual([...Array.from({ length: n }, (_, i) => tokens(i + 1)), `${tokens(n)}.>`]);
  });
});

/** A stream as a reader: the first message at or after a sequence. */
const readerOf = (msgs: readonly StoredEvent[]): Reader => async (seq) => msgs.find((m) => m.seq >= seq);
const event = (seq: number, id: string, source?: { indexName: string; seq: number }): StoredEvent => ({ seq, subject: "person.events.created", data: enc.encode(id), msgId: id, ...(source ? { source } : {}) });
const IDX = "E:hash > >";

/** The hub sourced leaf events 1..n; other sources' copies interleave. */
function aggregateOf(ids: readonly string[]): StoredEvent[] {
  const out: StoredEvent[] = [];
  ids.forEach((id, i) => {
    out.push(event(out.length + 1, id, { indexName: IDX, seq: i + 1 }));
    if (i % 3 === 0) out.push(event(out.length + 1, `other-${i}`, { indexName: "E:other > >", seq: i }));
  });
  return out;
}

describe("findRewind", () => {
  const old = Array.from({ length: 500 }, (_, i) => `old-${i}`);
  const agg = aggregateOf(old);
  const aggregate = { first: 1, last: agg.length, read: readerOf(agg) };

  it("a leaf that holds what the hub sourced is consistent", async () => {
    const leaf = old.map((id, i) => event(i + 1, id));
    expect((await findRewind({ indexName: IDX, hubSeq: 500, leaf: { first: 1, last: 500, read: readerOf(leaf) }, aggregate })).status).toBe("consistent");
  });

  it("a leaf back at 300: resume at 301, and the hub waits for 200 more", async () => {
    const leaf = old.slice(0, 300).map((id, i) => event(i + 1, id));
    const f = await findRewind({ indexName: IDX, hubSeq: 500, leaf: { first: 1, last: 300, read: readerOf(leaf) }, aggregate });
    expect(f).toMatchObject({ status: "rewound", resumeAt: 301, fix: "add-rewind" });
    expect(f.detail).toContain("the next 200 events the leaf acks will be skipped too");
  });

  it("a leaf back at 300 that has since acked 250 new events (past the hub's 500): resume at 301", async () => {
    const leaf = [...old.slice(0, 300), ...Array.from({ length: 250 }, (_, i) => `new-${i}`)].map((id, i) => event(i + 1, id));
    const f = await findRewind({ indexName: IDX, hubSeq: 500, leaf: { first: 1, last: 550, read: readerOf(leaf) }, aggregate });
    expect(f).toMatchObject({ status: "rewound", resumeAt: 301 });
    expect(f.detail).toContain("200 leaf events from seq 301 on are not in the aggregate");
  });

  it("a repaired source on a stream created anew (new disk) says to drop the leaf's rewinds entries", async () => {
    const leaf = Array.from({ length: 60 }, (_, i) => event(i + 1, `fresh-${i}`));
    const f = await findRewind({ indexName: "E:hash *\f*.> >\f>", hubSeq: 0, startSeq: 301, priorIndexNames: [IDX], leaf: { first: 1, last: 60, read: readerOf(leaf) }, aggregate });
    expect(f).toMatchObject({ status: "rewound", fix: "drop-rewinds" });
  });

  it("a stream created anew and sourced again from 1: only its own incarnation's copies count", async () => {
    const twice = [...aggregateOf(old).map((m) => ({ ...m, source: m.source && { ...m.source, ident: "OLD" } }))];
    Array.from({ length: 60 }, (_, i) => `fresh-${i}`).forEach((id, i) => twice.push({ ...event(twice.length + 1, id), source: { indexName: IDX, seq: i + 1, ident: "NEW" } }));
    const leaf = Array.from({ length: 60 }, (_, i) => event(i + 1, `fresh-${i}`));
    const f = await findRewind({ indexName: IDX, ident: "NEW", hubSeq: 60, leaf: { first: 1, last: 60, read: readerOf(leaf) }, aggregate: { first: 1, last: twice.length, read: readerOf(twice) } });
    expect(f.status).toBe("consistent");
  });

  it("a repaired source whose leaf kept its events below the start is consistent", async () => {
    const leaf = [...old.slice(0, 300), "new-0"].map((id, i) => event(i + 1, id));
    const f = await findRewind({ indexName: "E:hash *\f*.> >\f>", hubSeq: 0, startSeq: 301, priorIndexNames: [IDX], leaf: { first: 1, last: 301, read: readerOf(leaf) }, aggregate });
    expect(f.status).toBe("consistent");
  });
});
