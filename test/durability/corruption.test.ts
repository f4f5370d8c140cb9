/**
 * Minority corruption (docs/durability.md): one hub member's block file damaged on disk while
 * it is down — a flipped byte in its middle, or the file cut to 60% — then the member restarts
 * and is made the leader of the damaged stream, so every read goes through its store. The
 * aggregate and the projections must still hold every acked event and projection exactly once,
 * and the member's replica must match the others: nats-server rebuilds it from its peers, or
 * `npm run verify` names the damaged replica, and removing its copy of the stream rebuilds it.
 * RUNS times, a different member, stream and damage each time, the runs at once on worlds of
 * their own (harness eachRun).
 *
 * Loopback 127.0.126.x, 127.0.248.x, 127.0.249.x (one block per world).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { instanceByName } from "../../components/topology/endpoints";
import { evaluate } from "../../components/verify/checks";
import { observe } from "../../components/verify/probe";
import { eventually } from "../support/eventually";
import { AGGREGATE, audit, CLEAN, eachRun, HUB, LEAVES, PROJECTIONS, publishEvents, report, RUNS, startCells, stopCells, streamLeader, verifyOutputs, type Cell, type World } from "./harness";

type Damage = { readonly member: (typeof HUB)[number]; readonly stream: string; readonly how: "flip" | "truncate" };
const DAMAGES: readonly Damage[] = [
  { member: "h2-hub", stream: AGGREGATE, how: "flip" },
  { member: "h3-hub", stream: AGGREGATE, how: "truncate" },
  { member: "h1-hub", stream: PROJECTIONS, how: "flip" },
];
const NETS = ["127.0.126", "127.0.248", "127.0.249"];

describe("a damaged block file on one hub member", () => {
  let cells: Cell[];

  beforeAll(async () => {
    cells = await startCells({ name: "corrupt" }, NETS);
  }, 180_000);

  afterAll(() => stopCells(cells));

  /** Per member, the damaged stream's state as that member's own store reports it (/jsz). */
  async function replicaStates(world: World, stream: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const m of HUB) {
      type Jsz = { account_details?: { stream_detail?: { name: string; state: { messages: number; last_seq: number } }[] }[] };
      const jsz = (await (await fetch(`${world.running.monitoringUrl(m)}/jsz?streams=true&accounts=true`, { signal: AbortSignal.timeout(2_000) })).json()) as Jsz;
      const st = jsz.account_details?.flatMap((a) => a.stream_detail ?? []).find((s) => s.name === stream)?.state;
      out[m] = st ? `${st.messages}/${st.last_seq}` : "missing";
    }
    return out;
  }

  it(`stays correct, read through the damaged member; its replica matches the others (${RUNS} runs)`, async () => {
    await eachRun(cells, async ({ world, ledger }, run) => {
      const before = ledger.ackedEvents.size;
      const d = DAMAGES[(run - 1) % DAMAGES.length];
      const [l1, l2] = await Promise.all(LEAVES.map(async (l) => jetstream(await world.connection(l))));
      await Promise.all([publishEvents(l1, "l1", `damage${run}`, 600, ledger, { inFlight: 16, retryUntil: Date.now() + 60_000 }), publishEvents(l2, "l2", `damage${run}-l2`, 300, ledger, { inFlight: 16, retryUntil: Date.now() + 60_000 })]);
      expect(await audit(world, ledger)).toMatchObject(CLEAN); // everything stored, on every member, before the damage

      await world.crash([d.member]);
      const dir = path.join(instanceByName(world.topology, d.member).storeDir, "jetstream", "$G", "streams", d.stream, "msgs");
      const blocks = fs.readdirSync(dir).filter((f) => f.endsWith(".blk")).sort((a, b) => parseInt(a) - parseInt(b));
      const blk = path.join(dir, blocks[0]);
      const size = fs.statSync(blk).size;
      if (d.how === "flip") {
        const buf = fs.readFileSync(blk);
        buf[Math.floor(size / 2)] ^= 0xff;
        fs.writeFileSync(blk, buf);
      } else fs.truncateSync(blk, Math.floor(size * 0.6));
      await world.restart([d.member]);

      // Every read through the damaged store: make the member the stream's leader.
      const hub = await world.connection(HUB);
      await eventually(
        `${d.member} leads ${d.stream}`,
        async () => {
          if ((await streamLeader(world, d.stream)) === d.member) return true;
          await hub.request(`$JS.API.STREAM.LEADER.STEPDOWN.${d.stream}`, JSON.stringify({ placement: { preferred: d.member } }), { timeout: 5_000 }).catch(() => undefined);
          return (await streamLeader(world, d.stream)) === d.member;
        },
        (v) => v,
        60_000,
        500,
      );
      await publishEvents(l1, "l1", `damage${run}-after`, 100, ledger, { inFlight: 8, retryUntil: Date.now() + 30_000 });
      const a = await audit(world, ledger, 90_000);
      const agree = (r: Record<string, string>) => new Set(Object.values(r)).size === 1;
      let replicas = await eventually(`the replicas of ${d.stream} agree`, () => replicaStates(world, d.stream), agree, 30_000, 500).catch(() => replicaStates(world, d.stream));
      const damaged = JSON.stringify(replicas);
      if (!agree(replicas)) {
        // nats-server did not rebuild it: verify must name the damaged replica, and its repair must work.
        const outputs = verifyOutputs(world);
        const verdict = evaluate(outputs, await observe(outputs, { sourceWaitMs: 5_000 }), { logOf: (s) => `${s}.log`, cidLog: "", up: "run pulumi up" });
        expect(verdict.failures.find((f) => f.check === "replicas" && f.server === d.member)?.message).toContain(`stream ${d.stream}: this replica holds`);
        // The repair verify names (peer-remove has no spare member to move to in a three-member hub).
        await world.running.stopServer(d.member);
        fs.rmSync(path.dirname(dir), { recursive: true, force: true });
        await world.restart([d.member]);
        replicas = await eventually(`${d.stream} rebuilt on ${d.member}`, () => replicaStates(world, d.stream), agree, 90_000, 500).catch(() => replicaStates(world, d.stream));
      }
      report(`${d.how === "flip" ? "flipped byte" : "truncated to 60%"} in ${d.member}'s ${d.stream} block (${size} B)`, run, a, `replicas ${damaged}${damaged !== JSON.stringify(replicas) ? `, rebuilt as verify said: ${JSON.stringify(replicas)}` : ""}`);
      expect.soft(a).toMatchObject(CLEAN);
      expect(agree(replicas)).toBe(true);
      expect(a.ackedEvents - before).toBe(1_000);
    });
  }, 180_000 * RUNS);
});
