/**
 * Crashes (docs/durability.md): `kill -9` of a leaf, and of two of the three hub members, while
 * events are being published and projections written. The processes die; the disks keep what
 * the kernel had (no LazyFS here). Publishers retry a publish that got no ack with the same
 * message id, as a service would: every acked event must be stored exactly once at its leaf
 * and in the aggregate, every acked projection kept, and the consumer must redeliver what the
 * projector had not acked. Each scenario RUNS times, the runs at once on worlds of their own
 * (harness eachRun); the hub crashes strike worlds that have been through a leaf crash.
 *
 * Loopback 127.0.124.x, 127.0.244.x, 127.0.245.x (one block per world).
 */
import { jetstream } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { audit, CLEAN, eachRun, HUB, LEAVES, publishEvents, report, RUNS, startCells, stopCells, streamLeader, type Cell } from "./harness";

const NETS = ["127.0.124", "127.0.244", "127.0.245"];

describe("kill -9 mid-publish", () => {
  let cells: Cell[];

  beforeAll(async () => {
    cells = await startCells({ name: "crash" }, NETS);
  }, 180_000);

  afterAll(() => stopCells(cells));

  it(`of a leaf: every acked event stored once, retries de-duplicated (${RUNS} runs)`, async () => {
    await eachRun(cells, async ({ world, ledger }, run) => {
      const before = ledger.ackedEvents.size;
      const js = jetstream(await world.connection("l1"));
      let killed: Promise<void> | undefined;
      const kill = (n: number) => {
        if (n === 700 && !killed) killed = world.crash(["l1"]).then(() => world.restart(["l1"]));
      };
      await publishEvents(js, "l1", `kill-leaf${run}`, 2_000, ledger, { inFlight: 32, retryUntil: Date.now() + 60_000, onAck: kill });
      await killed;
      const a = await audit(world, ledger);
      report("kill -9 of a leaf mid-publish", run, a);
      expect.soft(a).toMatchObject(CLEAN);
      expect(killed).toBeDefined();
      expect(a.ackedEvents - before).toBe(2_000);
      expect(ledger.unackedEvents.size).toBe(0);
    });
  }, 120_000 * RUNS);

  it(`of two hub members (one leading the aggregate) while leaves publish and projections are written (${RUNS} runs)`, async () => {
    await eachRun(cells, async ({ world, ledger, projector }, run) => {
      const before = ledger.ackedEvents.size;
      const leader = (await streamLeader(world, "CLUSTER_PERSON_EVENTS")) ?? HUB[0];
      const victims = [leader, HUB.filter((m) => m !== leader)[run % 2]];
      const [l1, l2] = await Promise.all(LEAVES.map(async (l) => jetstream(await world.connection(l))));
      let killed: Promise<void> | undefined;
      const kill = (n: number) => {
        if (n === 400 && !killed) killed = world.crash(victims).then(() => world.restart(victims));
      };
      await Promise.all([publishEvents(l1, "l1", `kill-hub${run}`, 1_000, ledger, { inFlight: 16, retryUntil: Date.now() + 60_000, onAck: kill }), publishEvents(l2, "l2", `kill-hub${run}-l2`, 1_000, ledger, { inFlight: 16, retryUntil: Date.now() + 60_000 })]);
      await killed;
      const a = await audit(world, ledger, 90_000);
      report("kill -9 of two hub members mid-publish", run, a, `killed ${victims.join(" + ")}, projector errors ${projector.errors}`);
      expect.soft(a).toMatchObject(CLEAN);
      expect(killed).toBeDefined();
      expect(a.ackedEvents - before).toBe(2_000);
    });
  }, 180_000 * RUNS);
});
