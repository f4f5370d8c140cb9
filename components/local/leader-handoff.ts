/**
 * Before a hub member's lame duck stop: move the JetStream stream and consumer leaderships it
 * holds to other members through the JetStream API (`$JS.API.STREAM.LEADER.STEPDOWN.<stream>`,
 * `$JS.API.CONSUMER.LEADER.STEPDOWN.<stream>.<consumer>`), and wait until its /jsz shows none.
 *
 * Why: measured on nats-server 2.15.2 with a `stream info` every 10 ms at the hub, a lame duck
 * stop of the member leading an R3 stream dropped ~2–3 requests (they time out: the leadership
 * moves inside lame duck's transferRaftLeaders), while an API stepdown dropped none, and a lame
 * duck stop of a member leading nothing dropped none either. The meta leader's stop dropped none.
 *
 * Needs creds of a user in the account that owns the streams, allowed to call those subjects
 * (the stack's JetStream admin user). Streams of other accounts are left to lame duck.
 */
import { caPemOf, readRenderedConf } from "./conf-reader";
import { noteInLog } from "./server-dir";

type ClusterInfo = { readonly leader?: string };
type Jsz = {
  readonly account_details?: readonly {
    readonly name: string;
    readonly stream_detail?: readonly {
      readonly name: string;
      readonly cluster?: ClusterInfo;
      readonly consumer_detail?: readonly { readonly name: string; readonly cluster?: ClusterInfo }[];
    }[];
  }[];
};

/** What this server leads: stream names, and consumers as [stream, consumer], per account. */
export type Leaderships = { readonly account: string; readonly streams: readonly string[]; readonly consumers: readonly (readonly [string, string])[] }[];

export async function leadershipsOf(monitoringUrl: string, serverName: string): Promise<Leaderships> {
  const res = await fetch(`${monitoringUrl.replace(/\/+$/, "")}/jsz?accounts=true&streams=true&consumers=true`, { signal: AbortSignal.timeout(2_000) });
  const jsz = (await res.json()) as Jsz;
  return (jsz.account_details ?? [])
    .map((a) => ({
      account: a.name,
      streams: (a.stream_detail ?? []).filter((s) => s.cluster?.leader === serverName).map((s) => s.name),
      consumers: (a.stream_detail ?? []).flatMap((s) =>
        (s.consumer_detail ?? []).filter((c) => c.cluster?.leader === serverName).map((c) => [s.name, c.name] as const),
      ),
    }))
    .filter((a) => a.streams.length + a.consumers.length > 0);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Steps down every stream and consumer leader on `serverName` that `creds` can reach (connected
 * at `clientUrl`), then waits up to `timeoutMs` for /jsz to show it leads none of them.
 * Returns one line per leadership it could not move (empty when all moved); never throws for a
 * failed stepdown — lame duck still moves what is left.
 */
export async function handOffLeaderships(args: {
  readonly monitoringUrl: string;
  readonly serverName: string;
  readonly clientUrl: string;
  readonly creds: string;
  /** The CA certificate (PEM) when the client listener requires TLS. Default: plain. */
  readonly caPem?: string;
  readonly timeoutMs?: number;
}): Promise<{ moved: number; left: string[] }> {
  const before = await leadershipsOf(args.monitoringUrl, args.serverName);
  if (before.length === 0) return { moved: 0, left: [] };
  // Loaded here, not at the top: the provider process loads this module at call time.
  const { connect } = require("@nats-io/transport-node") as typeof import("@nats-io/transport-node");
  const { credsAuthenticator } = require("@nats-io/nats-core") as typeof import("@nats-io/nats-core");
  const { natsClientTls } = require("../tls/client") as typeof import("../tls/client");
  const nc = await connect({
    servers: args.clientUrl,
    authenticator: credsAuthenticator(new TextEncoder().encode(args.creds)),
    reconnect: false,
    timeout: 5_000,
    ...(args.caPem ? { tls: natsClientTls(args.caPem, [args.clientUrl]) } : {}),
  });
  let requested = 0;
  try {
    for (const a of before) {
      for (const stream of a.streams) {
        requested++;
        await nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, "", { timeout: 3_000 }).catch(() => undefined);
      }
      for (const [stream, consumer] of a.consumers) {
        requested++;
        await nc.request(`$JS.API.CONSUMER.LEADER.STEPDOWN.${stream}.${consumer}`, "", { timeout: 3_000 }).catch(() => undefined);
      }
    }
  } finally {
    await nc.close();
  }
  const deadline = Date.now() + (args.timeoutMs ?? 10_000);
  for (;;) {
    const now = await leadershipsOf(args.monitoringUrl, args.serverName).catch(() => before);
    const left = now.flatMap((a) => [...a.streams.map((s) => `stream ${a.account}/${s}`), ...a.consumers.map(([s, c]) => `consumer ${a.account}/${s}/${c}`)]);
    if (left.length === 0 || Date.now() >= deadline) return { moved: requested - left.length, left };
    await sleep(100);
  }
}

/**
 * Before a running hub member's lame duck stop, with handoff creds: move its JetStream leaderships
 * away (above), reading its client URL and CA from the config it runs. Never throws: what cannot
 * move is left to lame duck, and the server's log says so.
 */
export async function handOffBeforeStop(args: {
  readonly runningConfig: string | undefined;
  readonly monitoringUrl: string;
  readonly creds: string | undefined;
  readonly logPath: string;
}): Promise<void> {
  const tree = args.runningConfig === undefined ? undefined : readRenderedConf(args.runningConfig);
  if (!args.creds || !tree || tree.cluster === undefined) return;
  if (typeof tree.server_name !== "string" || typeof tree.listen !== "string") return;
  try {
    // A TLS client listener: trust the CA file the server itself names (written beside its config).
    const caPem = caPemOf(tree);
    const { moved, left } = await handOffLeaderships({
      monitoringUrl: args.monitoringUrl,
      serverName: tree.server_name,
      clientUrl: `nats://${tree.listen}`,
      creds: args.creds,
      ...(caPem !== undefined ? { caPem } : {}),
    });
    if (moved + left.length > 0) {
      noteInLog(args.logPath, `moved ${moved} JetStream leadership(s) away through the API${left.length ? `; left to lame duck: ${left.join(", ")}` : ""}`);
    }
  } catch (err) {
    noteInLog(args.logPath, `could not move JetStream leaderships away (${(err as Error).message}); lame duck moves them`);
  }
}
