/**
 * After a local leaf's restart: the hub streams sourcing from its JetStream domain set their
 * sources up now, not on nats-server's retry backoff (jetstream/source-nudge.ts says why).
 */
import { nudgeHubSourcesOf } from "../jetstream/source-nudge";
import { blockField, caPemOf, readRenderedConf } from "./conf-reader";
import { noteInLog } from "./server-dir";

/**
 * Steps down the leader of every hub stream sourcing from the leaf whose config is `leafConfig`.
 * Never throws: a nudge that fails leaves the sources to nats-server's own retry, and the leaf's
 * log says so.
 */
export async function nudgeHubSources(args: { readonly hubClientUrls: readonly string[]; readonly creds: string; readonly leafConfig: string; readonly logPath: string }): Promise<void> {
  const tree = readRenderedConf(args.leafConfig);
  const domain = blockField(tree, "jetstream", "domain");
  if (typeof domain !== "string" || args.hubClientUrls.length === 0) return;
  try {
    const ca = caPemOf(tree);
    const hub = { servers: args.hubClientUrls, credentials: { creds: args.creds }, ...(ca !== undefined ? { tls: { ca } } : {}) };
    const { nudged, refused } = await nudgeHubSourcesOf(hub, domain);
    if (nudged.length > 0) noteInLog(args.logPath, `nudged the hub's sources of this leaf (stream leader stepdown): ${nudged.join(", ")}`);
    for (const r of refused) noteInLog(args.logPath, `could not nudge the hub's ${r.stream} (stepdown refused: ${r.why}); nats-server retries its source of this leaf on its own backoff`);
    if (nudged.length === 0 && refused.length === 0) noteInLog(args.logPath, `no hub stream sourcing from this leaf had a leader to move: nothing to nudge`);
  } catch (err) {
    noteInLog(args.logPath, `could not nudge the hub's sources of this leaf (${(err as Error).message}); nats-server retries them on its own backoff`);
  }
}
