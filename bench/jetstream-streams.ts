/**
 * Create, diff and delete N streams (default 200) through the Stream provider functions and
 * through the raw JetStream API on one reused connection, interleaved in the same run against
 * one real nats-server this script starts. Prints per-op medians (and p90) and the ratio
 * provider / raw. Target: ≤ 1.3×.
 *
 *   bash scripts/with-env.sh tsx bench/jetstream-streams.ts [N]
 *
 * "diff" is what `pulumi refresh` + `pulumi preview` do per stream: the provider's read (one
 * STREAM.INFO) plus its diff; raw is one STREAM.INFO plus comparing the declared settings.
 * The provider's delete includes its data-loss guard (STREAM.INFO, then STREAM.DELETE): one
 * more round trip than raw by design, so it is also measured with allowDataLoss: true.
 */
import { connect } from "@nats-io/transport-node";
import { closeJetStreamConnections } from "../components/jetstream/connection-pool";
import { createStream, deleteStream, diffStream, readStream, type StreamArgs, type StreamOutputs } from "../components/jetstream/stream";
import { startSingleServer } from "../harness/single-server";

const N = Number(process.argv[2] ?? 200);
const WARMUP = 20;

type Sample = { raw: number[]; provider: number[] };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)];

async function main(): Promise<void> {
  const server = await startSingleServer({ domain: "bench" });
  const nc = await connect({ servers: server.url });
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const raw = async (op: string, body?: unknown) => {
    const r = await nc.request(`$JS.bench.API.${op}`, body === undefined ? new Uint8Array() : enc.encode(JSON.stringify(body)), { timeout: 10_000 });
    const j = JSON.parse(dec.decode(r.data));
    if (j.error) throw new Error(`${op}: ${j.error.description}`);
    return j;
  };
  const rawConfig = (name: string, subject: string) => ({ name, subjects: [subject], storage: "file", retention: "limits", max_age: 720 * 3600e9, num_replicas: 1 });
  const args = (name: string, subject: string): StreamArgs => ({ target: server.target, name, subjects: [subject], storage: "file", retention: "limits", max_age: "720h", num_replicas: 1 });
  const time = async (f: () => Promise<unknown>) => {
    const t0 = process.hrtime.bigint();
    await f();
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };

  try {
    // Warm both paths (JIT, pooled connection, server caches).
    for (let i = 0; i < WARMUP; i++) {
      await raw(`STREAM.CREATE.WR${i}`, rawConfig(`WR${i}`, `wr.${i}`));
      await raw(`STREAM.DELETE.WR${i}`);
      const { id, outs } = await createStream(args(`WP${i}`, `wp.${i}`));
      await diffStream(id, (await readStream(id, outs)).props!, args(`WP${i}`, `wp.${i}`));
      await deleteStream(id, outs);
    }

    const create: Sample = { raw: [], provider: [] };
    const diff: Sample = { raw: [], provider: [] };
    const del: Sample = { raw: [], provider: [] };
    const made: { id: string; outs: StreamOutputs }[] = new Array(N);
    let changed = 0;

    // Alternate which side goes first: the server may still be finishing the previous op.
    const pair = async (i: number, a: () => Promise<void>, b: () => Promise<void>) => {
      if (i % 2 === 0) {
        await a();
        await b();
      } else {
        await b();
        await a();
      }
    };
    for (let i = 0; i < N; i++) {
      await pair(
        i,
        async () => void create.raw.push(await time(() => raw(`STREAM.CREATE.RAW_${i}`, rawConfig(`RAW_${i}`, `raw.${i}`)))),
        async () => void create.provider.push(await time(async () => (made[i] = await createStream(args(`PROV_${i}`, `prov.${i}`))))),
      );
    }
    for (let i = 0; i < N; i++) {
      const want = rawConfig(`RAW_${i}`, `raw.${i}`);
      const { id, outs } = made[i];
      await pair(
        i,
        async () =>
          void diff.raw.push(
            await time(async () => {
              const info = await raw(`STREAM.INFO.RAW_${i}`);
              if ((Object.keys(want) as (keyof typeof want)[]).some((k) => JSON.stringify(info.config[k]) !== JSON.stringify(want[k]))) changed++;
            }),
          ),
        async () =>
          void diff.provider.push(
            await time(async () => {
              const r = await readStream(id, outs);
              if ((await diffStream(id, r.props!, args(`PROV_${i}`, `prov.${i}`))).changes) changed++;
            }),
          ),
      );
    }
    // The floor of any guard that asks the server: raw STREAM.INFO, check, then STREAM.DELETE.
    const rawGuarded: number[] = [];
    for (let i = 0; i < N; i++) await raw(`STREAM.CREATE.RG_${i}`, rawConfig(`RG_${i}`, `rg.${i}`));
    for (let i = 0; i < N; i++) {
      const guardedRaw = async () =>
        void rawGuarded.push(
          await time(async () => {
            const info = await raw(`STREAM.INFO.RG_${i}`);
            if (info.state.messages > 0) throw new Error("not empty");
            await raw(`STREAM.DELETE.RG_${i}`);
          }),
        );
      if (i % 3 === 0) await guardedRaw();
      await pair(
        i,
        async () => void del.raw.push(await time(() => raw(`STREAM.DELETE.RAW_${i}`))),
        async () => void del.provider.push(await time(() => deleteStream(made[i].id, made[i].outs))),
      );
      if (i % 3 !== 0) await guardedRaw();
    }
    if (changed) throw new Error(`${changed} unchanged streams showed a diff`);

    // The guard costs one STREAM.INFO by design; with allowDataLoss: true there is none.
    const unguarded: Sample = { raw: [], provider: [] };
    const again: { id: string; outs: StreamOutputs }[] = [];
    for (let i = 0; i < N; i++) {
      await raw(`STREAM.CREATE.RAW_${i}`, rawConfig(`RAW_${i}`, `raw.${i}`));
      again.push(await createStream({ ...args(`PROV_${i}`, `prov.${i}`), allowDataLoss: true }));
    }
    for (let i = 0; i < N; i++) {
      await pair(
        i,
        async () => void unguarded.raw.push(await time(() => raw(`STREAM.DELETE.RAW_${i}`))),
        async () => void unguarded.provider.push(await time(() => deleteStream(again[i].id, again[i].outs))),
      );
    }

    const row = (op: string, s: Sample) => {
      const r = median(s.raw);
      const p = median(s.provider);
      return `${op.padEnd(8)} ${r.toFixed(3).padStart(9)} ${p90(s.raw).toFixed(3).padStart(9)} ${p.toFixed(3).padStart(11)} ${p90(s.provider).toFixed(3).padStart(11)} ${(p / r).toFixed(2).padStart(7)}×`;
    };
    console.log(`JetStream streams: ${N} each, provider functions vs raw JetStream API (one reused connection), nats-server ${nc.info?.version}, file storage`);
    console.log(`op       raw med ms    raw p90  provider med provider p90   ratio`);
    console.log(row("create", create));
    console.log(row("diff", diff));
    console.log(row("delete", del) + "  (data-loss guard: + one STREAM.INFO)");
    console.log(row("delete*", unguarded) + "  (* allowDataLoss: true, no guard)");
    console.log(row("INFO+DEL", { raw: del.raw, provider: rawGuarded }) + "  (raw guard floor: raw STREAM.INFO then STREAM.DELETE, vs raw delete)");
    const floor = median(del.provider) / median(rawGuarded);
    console.log(`guarded delete vs the raw guard floor: ${floor.toFixed(2)}× (what the provider adds over raw INFO+DELETE)`);
    const ratios = { create, diff, "delete (guarded)": del, "delete (allowDataLoss)": unguarded };
    for (const [op, s] of Object.entries(ratios)) {
      const r = median(s.provider) / median(s.raw);
      console.log(`${op}: ${r.toFixed(2)}× ${r <= 1.3 ? "≤" : ">"} 1.30× target`);
    }
  } finally {
    await nc.close();
    await closeJetStreamConnections();
    await server.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
