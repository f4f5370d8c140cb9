/**
 * Sequence rewind (docs/durability.md): a leaf stream that comes back shorter — restored from a
 * backup, or its tail lost to a power failure under the opt-in lazy sync — hands out sequence
 * numbers the hub's aggregate has already sourced. What nats-server does (counted), what
 * `npm run verify` says about it (its real probes and verdicts against the running servers), and
 * the repair (`aggregate.rewinds`, applied by the stream provider as `pulumi up` would) after
 * which every new event reaches the aggregate exactly once. A replaced disk (the stream created
 * anew) needs no new entry: nats-server notices the new stream and sources it from its start —
 * once that leaf's earlier entries are dropped, which verify asks for.
 *
 * Three worlds at once, a case each: the lazy leaf's power failure on 127.0.120.x, the backup
 * restores on 127.0.122.x, the replaced disk (of a leaf whose rewind was repaired earlier) on
 * 127.0.127.x. The power-failure case needs LazyFS; the others run everywhere.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { locationTarget } from "../../components/jetstream/locations";
import { createStream } from "../../components/jetstream/stream";
import { instanceByName } from "../../components/topology/endpoints";
import { evaluate, type VerifyReport } from "../../components/verify/checks";
import { observe } from "../../components/verify/probe";
import { eventually } from "../support/eventually";
import { lazyFsUnavailable } from "../support/lazyfs";
import { AGGREGATE, applyRewinds, EVENTS, HUB, newLedger, phase, publishEvents, readIds, startWorld, verifyOutputs, type World } from "./harness";

const NO_LAZYFS = lazyFsUnavailable();
type Rewind = { domain: string; fromSeq: number };
/** A world and the `rewinds` entries applied to it so far, oldest first (what the operator's stack config would hold). */
type Rewound = { readonly world: World; readonly applied: Rewind[] };
async function repair(w: Rewound, entries: Rewind[]): Promise<void> {
  w.applied.splice(0, w.applied.length, ...entries);
  await applyRewinds(w.world, w.applied);
}
const hints = { logOf: (s: string) => `${s}.log`, cidLog: "cid.log", up: "run pulumi up" };

// An opt-in lazy sync at the leaves: the case where a power failure can rewind a leaf. 30s, so
// the hub sources a burst well before the leaf's next fsync.
const worlds = {
  lazy: { name: "rewind", net: "127.0.120", lazyfs: NO_LAZYFS ? [] : ["l1"], sync: { leaf: "30s" } },
  backup: { name: "rewind-backup", net: "127.0.122", sync: { leaf: "30s" } },
  disk: { name: "rewind-disk", net: "127.0.127", lazyfs: NO_LAZYFS ? [] : ["l1"], sync: { leaf: "30s" } },
} as const;
let lazy: Rewound;
let backup: Rewound;
let disk: Rewound;
beforeAll(async () => {
  const started = await Promise.allSettled([startWorld(worlds.lazy), startWorld(worlds.backup), startWorld(worlds.disk)]);
  const [a, b, c] = started.map((r) => (r.status === "fulfilled" ? r.value : undefined));
  if (a) lazy = { world: a, applied: [] };
  if (b) backup = { world: b, applied: [] };
  if (c) disk = { world: c, applied: [] };
  const failed = started.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
}, 180_000);
afterAll(() => Promise.all([lazy?.world.stop(), backup?.world.stop(), disk?.world.stop()]));

async function verifyReport(world: World): Promise<VerifyReport> {
  const outputs = verifyOutputs(world);
  return evaluate(outputs, await phase("verify", () => observe(outputs, { sourceWaitMs: 0 })), hints);
}

async function aggregateIds(world: World): Promise<string[]> {
  const nc = await world.connection(HUB);
  return readIds(await jetstreamManager(nc), jetstream(nc), AGGREGATE);
}

/** The leaf's stream state and the hub's source for it. */
async function sourceState(world: World, leaf: string) {
  const hub = await jetstreamManager(await world.connection(HUB));
  const info = await hub.streams.info(AGGREGATE);
  const sources = (info.sources ?? []) as unknown as { external?: { api?: string }; seq?: number; lag: number; active: number }[];
  const src = sources.find((s) => s.external?.api === `$JS.${leaf}.API`);
  const leafInfo = await (await jetstreamManager(await world.connection(leaf))).streams.info(EVENTS);
  return { hubSeq: src?.seq ?? 0, active: src?.active ?? -1, leafLast: leafInfo.state.last_seq, aggregate: info.state.messages };
}

/** Waits until the hub's source has talked to the (restarted) leaf again: then a skip is a skip, not a delay. */
async function sourceReconnected(world: World, leaf: string): Promise<void> {
  await eventually(`the aggregate's source for ${leaf} active again`, () => sourceState(world, leaf), (s) => s.active >= 0 && s.active < 1e9, 60_000, 250);
}

const count = (ids: readonly string[], prefix: string) => ids.filter((id) => id.startsWith(prefix)).length;

// The three worlds' cases run at the same time (each top-level group is concurrent).
describe("the lazy leaf's world", { concurrent: true }, () => {
  describe(`a lazy leaf's power failure (opt-in sync_interval 30s, LazyFS)${NO_LAZYFS ? ` (skipped: ${NO_LAZYFS})` : ""}`, { skip: NO_LAZYFS !== "" }, () => {
    it("loses its unsynced tail; the aggregate would skip its next events; verify finds the resume point; the repair delivers them", async () => {
      const ledger = newLedger();
      const js = jetstream(await lazy.world.connection("l1"));
      const before = (await sourceState(lazy.world, "l1")).leafLast;
      await publishEvents(js, "l1", "pf-synced", 1_000, ledger, { inFlight: 32 });
      // These reach the disk, as the kernel's writeback would have them by now; the burst does not.
      await lazy.world.mounts.get("l1")!.checkpoint();
      await publishEvents(js, "l1", "pf-burst", 2_000, ledger, { inFlight: 64 });
      await eventually("the aggregate sourced the burst", () => sourceState(lazy.world, "l1"), (s) => s.hubSeq === s.leafLast, 60_000, 100);
      const sourced = (await sourceState(lazy.world, "l1")).hubSeq;
      await lazy.world.crash(["l1"], true);
      await lazy.world.restart(["l1"]);
      const back = (await eventually("the leaf answers", () => sourceState(lazy.world, "l1"), () => true, 30_000, 250)).leafLast;
      await sourceReconnected(lazy.world, "l1");
      await publishEvents(js, "l1", "pf-new", 50, ledger, { inFlight: 8, retryUntil: Date.now() + 30_000 });
      await sourceReconnected(lazy.world, "l1");
      const skipped = 50 - count(await aggregateIds(lazy.world), "pf-new");
      console.log(`[rewind] lazy leaf power failure: ${sourced - before} acked, hub sourced up to seq ${sourced}, leaf back to ${back} (${sourced - back} acked events gone at the leaf, all in the aggregate), 50 new events: ${skipped} skipped`);
      expect(back).toBeLessThan(sourced);
      expect(skipped).toBe(50);

      const failure = (await verifyReport(lazy.world)).failures.find((f) => f.check === "sources")?.message ?? "";
      expect(failure).toContain(`add { domain: l1, fromSeq: ${back + 1} }`);
      await repair(lazy, [...lazy.applied, { domain: "l1", fromSeq: back + 1 }]);
      await eventually("the new events in the aggregate", () => aggregateIds(lazy.world), (ids) => count(ids, "pf-new") === 50, 60_000, 250);
      const ids = await aggregateIds(lazy.world);
      expect([count(ids, "pf-synced"), count(ids, "pf-burst"), count(ids, "pf-new"), ids.length - new Set(ids).size]).toEqual([1_000, 2_000, 50, 0]);
      expect((await verifyReport(lazy.world)).durability.sources.find((x) => x.leaf === "l1")?.sequence).toBe("consistent");
    }, 180_000);
  });
});

describe("the replaced disk's world, meanwhile", { concurrent: true }, () => {
  describe("a leaf whose disk was replaced (its stream created anew)", () => {
    it("is sourced from its first event: nats-server sees a new stream (a leaf with rewinds entries needs them dropped, and verify says so)", async () => {
      const ledger = newLedger();
      const js = jetstream(await disk.world.connection("l1"));
      await publishEvents(js, "l1", "disk-old", 100, ledger, { inFlight: 8 });
      await eventually("sourced", () => sourceState(disk.world, "l1"), (s) => s.hubSeq === s.leafLast, 60_000, 250);
      // A leaf whose rewind was repaired earlier (as in the power-failure case): its source resumes
      // at an entry of its own, here at the leaf's next sequence.
      await repair(disk, [{ domain: "l1", fromSeq: (await sourceState(disk.world, "l1")).leafLast + 1 }]);
      const l1 = instanceByName(disk.world.topology, "l1");
      await disk.world.running.stopServer("l1");
      // A new, empty disk: the store is gone; `pulumi up` creates the stream again.
      for (const f of fs.readdirSync(l1.storeDir)) fs.rmSync(path.join(l1.storeDir, f), { recursive: true, force: true });
      await disk.world.restart(["l1"]);
      const s = disk.world.spec.streams.find((x) => x.location.domain === "l1")!;
      await createStream({ ...s.config, target: locationTarget(s.location, disk.world.topology) });
      await disk.world.mounts.get("l1")?.checkpoint();
      await publishEvents(js, "l1", "disk-new", 60, ledger, { inFlight: 8, retryUntil: Date.now() + 30_000 });
      // The repaired rewind pins the source's start: on the new stream it would skip the events
      // below it. verify says so, and dropping the leaf's entries sources the new stream from 1.
      await sourceReconnected(disk.world, "l1");
      const failure = (await verifyReport(disk.world)).failures.find((f) => f.check === "sources" && f.message.includes("@l1"))?.message ?? "";
      expect(failure).toContain("its stream was created anew");
      expect(failure).toContain(`remove the entries of domain l1 from the \`rewinds\` of aggregate ${AGGREGATE}`);
      await repair(disk, disk.applied.filter((r) => r.domain !== "l1"));
      await eventually("the new stream's events in the aggregate", () => aggregateIds(disk.world), (ids) => count(ids, "disk-new") === 60, 90_000, 250);
      const ids = await aggregateIds(disk.world);
      expect([count(ids, "disk-old"), count(ids, "disk-new"), ids.length - new Set(ids).size]).toEqual([100, 60, 0]);
      expect((await verifyReport(disk.world)).durability.sources.find((x) => x.leaf === "l1")?.sequence).toBe("consistent");
    }, 180_000);
  });
});

describe("the backup world, meanwhile", { concurrent: true }, () => {
  describe("a leaf restored from a backup (sequence rewind)", () => {
    it("skips the leaf's next events today; verify names the rewind and where to resume; the repair delivers each exactly once, twice in a row", async () => {
      const ledger = newLedger();
      const l2 = instanceByName(backup.world.topology, "l2");
      const saved = path.join(backup.world.running.dir, "backup-l2");
      for (const round of [1, 2]) {
        const js = jetstream(await backup.world.connection("l2"));
        await publishEvents(js, "l2", `r${round}-kept`, 300, ledger, { inFlight: 16 });
        // A crash-consistent backup, taken while the leaf runs (as a volume snapshot would be).
        fs.rmSync(saved, { recursive: true, force: true });
        fs.cpSync(l2.storeDir, saved, { recursive: true });
        await publishEvents(js, "l2", `r${round}-lost`, 200, ledger, { inFlight: 16 });
        await eventually("the aggregate sourced them", () => sourceState(backup.world, "l2"), (s) => s.hubSeq === s.leafLast, 60_000, 250);
        const sourced = (await sourceState(backup.world, "l2")).hubSeq;

        // The backup goes back in: the leaf's stream ends 200 events earlier.
        await backup.world.running.stopServer("l2");
        fs.rmSync(l2.storeDir, { recursive: true, force: true });
        fs.cpSync(saved, l2.storeDir, { recursive: true });
        await backup.world.restart(["l2"]);
        await sourceReconnected(backup.world, "l2");
        await publishEvents(js, "l2", `r${round}-new`, 50, ledger, { inFlight: 8, retryUntil: Date.now() + 30_000 });
        await sourceReconnected(backup.world, "l2");
        const after = await sourceState(backup.world, "l2");
        const skipped = 50 - count(await aggregateIds(backup.world), `r${round}-new`);
        console.log(`[rewind] backup restore round ${round}: hub sourced up to leaf seq ${sourced}, leaf back to ${after.leafLast - 50}, 50 new events acked at the leaf, ${skipped} of them skipped by the aggregate`);
        expect(after.hubSeq).toBe(sourced);
        expect(skipped).toBe(50); // what nats-server does on its own: silently waits for seq sourced+1

        // verify: the rewind, by name, with the sequence to resume from.
        const report = await verifyReport(backup.world);
        const resumeAt = after.leafLast - 50 + 1;
        const failure = report.failures.find((f) => f.check === "sources")?.message ?? "";
        expect(failure).toContain(`source ${EVENTS}@l2 is rewound: the hub sourced up to leaf seq ${sourced}, but the leaf's stream ends at ${after.leafLast}`);
        expect(failure).toContain(`50 leaf events from seq ${resumeAt} on are not in the aggregate; the next ${sourced - after.leafLast} events the leaf acks will be skipped too`);
        expect(failure).toContain(`add { domain: l2, fromSeq: ${resumeAt} } to the \`rewinds\` of aggregate ${AGGREGATE}`);

        // The repair as an operator applies it (round 2 adds a second entry: a second epoch).
        await repair(backup, [...backup.applied, { domain: "l2", fromSeq: resumeAt }]);
        await publishEvents(js, "l2", `r${round}-repaired`, 20, ledger, { inFlight: 4 });
        await eventually("the new events in the aggregate", () => aggregateIds(backup.world), (ids) => count(ids, `r${round}-new`) === 50 && count(ids, `r${round}-repaired`) === 20, 60_000, 250);
        const ids = await aggregateIds(backup.world);
        expect(ids.length).toBe(new Set(ids).size); // no duplicates
        const fixed = await verifyReport(backup.world);
        expect(fixed.failures.filter((f) => f.check === "sources" && f.message.includes("@l2"))).toEqual([]);
        expect(fixed.durability.sources.find((s) => s.leaf === "l2")?.sequence).toBe("consistent");
      }
    }, 300_000);
  });
});
