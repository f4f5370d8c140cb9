/**
 * A leaf partitioned from the hub (docs/durability.md): leaf l1 runs in a network namespace of
 * its own; an nftables table inside it drops its leafnode traffic (port 7422) for 30 s while a
 * service keeps publishing to it, then the cut heals. The leaf acks on its own throughout; the
 * aggregate gets none of those events during the cut (proof the cut is real) and every one of
 * them exactly once after it. RUNS times, the runs at once on worlds of their own (harness
 * eachRun: the cut is a wait, not work).
 *
 * Loopback 127.0.125.x, 127.0.246.x, 127.0.247.x (one block per world); namespaces `fd-*`, removed at the end. Skipped, saying why, where
 * network namespaces or nft are not available.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/eventually";
import { netnsUnavailable } from "../support/netns";
import { AGGREGATE, audit, CLEAN, eachRun, HUB, publishEvents, readIds, report, RUNS, sleep, startCells, stopCells, type Cell } from "./harness";

const SKIP = netnsUnavailable();
const CUT_MS = Number(process.env.CIM_NATS_PARTITION_MS ?? 30_000);
const NETS = ["127.0.125", "127.0.246", "127.0.247"];

describe.skipIf(SKIP !== "")(`a leaf cut off from the hub for ${CUT_MS / 1000} s while publishing${SKIP ? ` (skipped: ${SKIP})` : ""}`, () => {
  let cells: Cell[];

  beforeAll(async () => {
    cells = await startCells({ name: "partition", netns: ["l1"] }, NETS);
  }, 180_000);

  afterAll(() => stopCells(cells));

  it(`acks throughout, sources nothing during the cut, everything exactly once after it (${RUNS} runs)`, async () => {
    await eachRun(cells, async ({ world, ledger }, run) => {
      const ns = world.namespaces.get("l1")!;
      const js = jetstream(await world.connection("l1"));
      ns.cut([7422]);
      const cutAt = Date.now();
      let paced = 0;
      // 20 events every 500 ms for the length of the cut, a publisher that never stops (on a
      // schedule, so a slow ack under load does not thin out the cut).
      while (Date.now() - cutAt < CUT_MS) {
        await publishEvents(js, "l1", `cut${run}-${paced++}`, 20, ledger, { inFlight: 4, retryUntil: Date.now() + 30_000 });
        await sleep(cutAt + paced * 500 - Date.now());
      }
      const hub = await world.connection(HUB);
      const aggregate = () => eventually("the aggregate's events", async () => readIds(await jetstreamManager(hub), jetstream(hub), AGGREGATE), () => true, 60_000, 500);
      const during = (await aggregate()).filter((id) => id.startsWith(`cut${run}-`)).length;
      ns.heal();
      const a = await audit(world, ledger, 120_000);
      report(`leaf partitioned ${CUT_MS / 1000} s while publishing`, run, a, `${paced * 20} acked during the cut, ${during} of them sourced before it healed`);
      expect(during).toBe(0);
      expect.soft(a).toMatchObject(CLEAN);
    });
  }, (CUT_MS + 150_000) * RUNS);
});
