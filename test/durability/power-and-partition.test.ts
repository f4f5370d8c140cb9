/**
 * Jepsen's combination (docs/durability.md): one hub member loses power while another is cut
 * off from the rest, then both come back. Every hub store is on LazyFS; h2 runs in a network
 * namespace of its own, where an nftables table drops all its TCP for the cut. With only one
 * member reachable and up the hub has no quorum (writes wait, nothing is acked that is not on a
 * majority's disk); when the powered-off member returns with what `always` put on its disk and
 * the cut heals, nothing acked may be missing or doubled. RUNS times, the runs at once on worlds
 * of their own (harness eachRun); the member that loses power alternates between h1 and h3.
 *
 * Loopback 127.0.123.x, 127.0.242.x, 127.0.243.x (one block per world); namespaces `fd-*`. Skipped, saying why, where /dev/fuse, the LazyFS
 * build, network namespaces or nft are missing.
 */
import { jetstream } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lazyFsUnavailable } from "../support/lazyfs";
import { netnsUnavailable } from "../support/netns";
import { audit, CLEAN, eachRun, HUB, LEAVES, publishEvents, report, RUNS, sleep, startCells, stopCells, type Cell } from "./harness";

const SKIP = lazyFsUnavailable() || netnsUnavailable();
const NETS = ["127.0.123", "127.0.242", "127.0.243"];

describe.skipIf(SKIP !== "")(`one hub member's power failure while another is partitioned${SKIP ? ` (skipped: ${SKIP})` : ""}`, () => {
  let cells: Cell[];

  beforeAll(async () => {
    cells = await startCells({ name: "jepsen", lazyfs: [...HUB], netns: ["h2-hub"] }, NETS);
  }, 180_000);

  afterAll(() => stopCells(cells));

  it(`loses no acked event or projection (${RUNS} runs)`, async () => {
    await eachRun(cells, async ({ world, ledger, projector }, run) => {
      const h2 = world.namespaces.get("h2-hub")!;
      const before = ledger.ackedEvents.size;
      const powered = run % 2 === 1 ? "h1-hub" : "h3-hub";
      const [l1, l2] = await Promise.all(LEAVES.map(async (l) => jetstream(await world.connection(l))));
      let fault: Promise<void> | undefined;
      const strike = (n: number) => {
        if (n !== 400 || fault) return;
        fault = (async () => {
          h2.cut();
          await world.crash([powered], true);
          await sleep(3_000); // the hub without quorum for a while: writes must wait, not be acked
          await world.running.startServer(powered);
          await sleep(2_000); // back with its disk's state, while h2 is still cut off
          h2.heal();
          await world.restart([powered, "h2-hub"]); // both running already: waits until both are healthy
        })();
      };
      await Promise.all([publishEvents(l1, "l1", `jepsen${run}`, 1_000, ledger, { inFlight: 16, retryUntil: Date.now() + 60_000, onAck: strike }), publishEvents(l2, "l2", `jepsen${run}-l2`, 1_000, ledger, { inFlight: 16, retryUntil: Date.now() + 60_000 })]);
      await fault;
      const a = await audit(world, ledger, 120_000);
      report(`power failure of ${powered} with h2-hub partitioned`, run, a, `projector errors ${projector.errors}`);
      expect.soft(a).toMatchObject(CLEAN);
      expect(a.ackedEvents - before).toBe(2_000);
    });
  }, 240_000 * RUNS);
});
