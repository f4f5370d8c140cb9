/**
 * Power failures (docs/durability.md): every store on LazyFS, which drops whatever was not
 * fsynced when told to — what losing power does to a disk. At the stack's defaults (`always` at
 * both tiers) no acknowledged event or projection may be lost, none duplicated, and the
 * projection consumer must redeliver what it had not acked. Each scenario runs RUNS times, the
 * runs at once on worlds of their own (harness eachRun); the hub power failures strike worlds
 * that have been through a leaf's (events accumulate; every audit covers all of them).
 *
 * - a leaf's power fails right after a burst of acked events (64 in flight);
 * - all three hub members lose power at once (one site) while both leaves publish, the aggregate
 *   sources and the projection service writes projections.
 *
 * Loopback 127.0.121.x, 127.0.240.x, 127.0.241.x (one block per world). Skipped, saying why, where /dev/fuse or the LazyFS build is missing.
 */
import { jetstream } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lazyFsUnavailable } from "../support/lazyfs";
import { audit, CLEAN, eachRun, HUB, LEAVES, publishEvents, report, RUNS, startCells, stopCells, type Cell } from "./harness";

const SKIP = lazyFsUnavailable();
const NETS = ["127.0.121", "127.0.240", "127.0.241"];

describe.skipIf(SKIP !== "")(`power failures on LazyFS at the default sync (always)${SKIP ? ` (skipped: ${SKIP})` : ""}`, () => {
  let cells: Cell[];

  beforeAll(async () => {
    cells = await startCells({ name: "pf", lazyfs: [...HUB, ...LEAVES] }, NETS);
  }, 180_000);

  afterAll(() => stopCells(cells));

  it(`a leaf's power fails right after a burst of acked events: none lost, the aggregate keeps sourcing it (${RUNS} runs)`, async () => {
    await eachRun(cells, async ({ world, ledger }, run) => {
      const before = ledger.ackedEvents.size;
      const [l1, l2] = await Promise.all(LEAVES.map(async (l) => jetstream(await world.connection(l))));
      await Promise.all([publishEvents(l1, "l1", `leafpf${run}`, 1_500, ledger, { inFlight: 64, retryUntil: Date.now() + 60_000 }), publishEvents(l2, "l2", `leafpf${run}-l2`, 100, ledger, { inFlight: 8, retryUntil: Date.now() + 60_000 })]);
      await world.crash(["l1"], true);
      await world.restart(["l1"]);
      // The leaf's next events must reach the aggregate too: a leaf that came back shorter would
      // hand out sequence numbers the hub has already sourced, and they would be skipped.
      await publishEvents(jetstream(await world.connection("l1")), "l1", `leafpf${run}-after`, 50, ledger, { inFlight: 8, retryUntil: Date.now() + 30_000 });
      const a = await audit(world, ledger);
      report("leaf power failure after a burst", run, a);
      expect.soft(a).toMatchObject(CLEAN);
      expect(a.ackedEvents - before).toBe(1_650);
    });
  }, 120_000 * RUNS);

  it(`all three hub members lose power at once while leaves publish and projections are written: nothing acked is lost (${RUNS} runs)`, async () => {
    await eachRun(cells, async ({ world, ledger, projector }, run) => {
      const before = { projections: ledger.ackedProjections.size, events: ledger.ackedEvents.size };
      const [l1, l2] = await Promise.all(LEAVES.map(async (l) => jetstream(await world.connection(l))));
      let struck: Promise<void> | undefined;
      const strike = (n: number) => {
        // Mid-stream: the aggregate is sourcing and projections are being written right now.
        if (n === 400 && !struck) struck = world.crash(HUB, true).then(() => world.restart(HUB));
      };
      await Promise.all([publishEvents(l1, "l1", `hubpf${run}`, 1_000, ledger, { inFlight: 16, retryUntil: Date.now() + 60_000, onAck: strike }), publishEvents(l2, "l2", `hubpf${run}-l2`, 1_000, ledger, { inFlight: 16, retryUntil: Date.now() + 60_000 })]);
      await struck;
      const a = await audit(world, ledger, 90_000);
      report("coordinated hub power failure", run, a, `projections acked before this run ${before.projections}, projector errors ${projector.errors}`);
      expect.soft(a).toMatchObject(CLEAN);
      expect(a.ackedProjections).toBeGreaterThan(before.projections);
      expect(a.ackedEvents - before.events).toBe(2_000);
    });
  }, 180_000 * RUNS);
});
