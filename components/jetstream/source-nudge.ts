/**
 * Nudge the hub streams whose sources of a leaf sit idle: step down each one's leader, so the new
 * leader sets its sources up at once.
 *
 * Why: a hub stream checks its sources every 10 s (nats-server 2.15.2 `sourceHealthCheckInterval`)
 * and re-creates a stalled one then; an attempt that fails while the leaf is down or not linked is
 * retried on a backoff (`calculateRetryBackoff`: 10 s × failures, up to 2 min). So after a leaf
 * restart the aggregate picked the leaf's new events up 4–16 s late, and after an `up` that
 * restarted every server and pushed new account JWTs (the links wait for those) 28–31 s late. A
 * new stream leader sets every source up when it takes over, and an API stepdown drops no request
 * (local/leader-handoff.ts). Two moments nudge:
 * - a leaf after its restart (nudgeHubSourcesOf: the streams sourcing from that leaf's domain);
 * - the data account's JWT push once the leaves' links it enabled are up (nudgeStalledHubSources:
 *   only streams with a source that has been silent — a live source heartbeats every second).
 * Both ask on the process's pooled connection to the hub (connection-pool.ts).
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { jetStreamConnection } from "./connection-pool";
import type { ConnectionTarget } from "./types";

type SourceInfo = { name?: string; external?: { api?: string }; active?: number; error?: unknown };
type StreamListPage = {
  total: number;
  offset: number;
  limit: number;
  streams?: { config: { name: string; num_replicas?: number; sources?: { external?: { api?: string } }[] }; cluster?: { leader?: string }; sources?: SourceInfo[] }[];
};

/** What a nudge did: the streams whose leader moved, and those whose stepdown the hub refused (with its reason). */
export type NudgeResult = { readonly nudged: readonly string[]; readonly refused: readonly { readonly stream: string; readonly why: string }[] };

/** A stream of one replica has no other member to lead it: a stepdown can never move it. */
const movable = (s: NonNullable<StreamListPage["streams"]>[number]) => Boolean(s.cluster?.leader) && (s.config.num_replicas ?? 1) > 1;

/** A live source heartbeats every second (nats-server `sourceHealthHB`); silent this long, it is stalled (ns, as StreamSourceInfo.active). */
export const STALLED_SOURCE_NS = 3e9;

/** Names of the streams in `page` that source from JetStream domain `domain` and have a leader to move. */
export function streamsSourcingFrom(page: StreamListPage, domain: string): string[] {
  const api = `$JS.${domain}.API`;
  return (page.streams ?? []).filter((s) => movable(s) && (s.config.sources ?? []).some((src) => src.external?.api === api)).map((s) => s.config.name);
}

/**
 * Names of the streams in `page` with a leader to move and an external source (a leaf's) that is
 * stalled: never heard from (active -1), silent over STALLED_SOURCE_NS, or failing.
 */
export function streamsWithStalledSources(page: StreamListPage): string[] {
  const stalled = (s: SourceInfo) => s.external?.api !== undefined && (s.error !== undefined || s.active === undefined || s.active < 0 || s.active > STALLED_SOURCE_NS);
  return (page.streams ?? []).filter((s) => movable(s) && (s.sources ?? []).some(stalled)).map((s) => s.config.name);
}

/**
 * Steps down the leader of every stream of `hub` (its servers, with JetStream-admin credentials
 * of the data account) that sources from JetStream domain `leafDomain`; returns their names.
 * Called after a leaf's restart. Throws on a connection or API failure.
 */
export function nudgeHubSourcesOf(hub: ConnectionTarget, leafDomain: string): Promise<NudgeResult> {
  return stepDownLeaders(hub, (page) => streamsSourcingFrom(page, leafDomain));
}

/**
 * Steps down the leader of every stream of `hub` with a stalled external source; returns their
 * names. Called once the leaves' links are up. Throws on a connection or API failure (the caller
 * decides whether that matters: nats-server retries the sources on its own backoff all the same).
 */
export function nudgeStalledHubSources(hub: ConnectionTarget): Promise<NudgeResult> {
  return stepDownLeaders(hub, streamsWithStalledSources);
}

/** Lists the hub's streams page by page and steps down the leader of each one `pick` names. */
async function stepDownLeaders(hub: ConnectionTarget, pick: (page: StreamListPage) => string[]): Promise<NudgeResult> {
  if (hub.servers.length === 0) return { nudged: [], refused: [] };
  // The hub's own API ($JS.API): these servers are the hub, whatever its domain is called.
  const { nc } = await jetStreamConnection({ ...hub, domain: undefined });
  const nudged: string[] = [];
  const refused: { stream: string; why: string }[] = [];
  for (let offset = 0; ; ) {
    const page = (await nc.request("$JS.API.STREAM.LIST", JSON.stringify({ offset }), { timeout: 5_000 })).json<StreamListPage>();
    for (const name of pick(page)) {
      const why = await stepDown(nc, name);
      if (why !== undefined) {
        refused.push({ stream: name, why });
        continue;
      }
      nudged.push(name);
      // What runs next (the aggregates waiting for this push, the next leaf) finds the stream led again.
      await waitForLeader(nc, name);
    }
    offset += page.streams?.length ?? 0;
    if (!page.streams?.length || offset >= page.total) break;
  }
  return { nudged, refused };
}

/** How long a refused stepdown is retried (the members may not all be current yet, e.g. just after an earlier one). */
const STEPDOWN_RETRY_MS = 5_000;

/** Steps the stream's leader down; undefined when it moved, else the hub's last reason for refusing. */
async function stepDown(nc: NatsConnection, name: string): Promise<string | undefined> {
  const deadline = Date.now() + STEPDOWN_RETRY_MS;
  for (;;) {
    let why: string;
    try {
      const reply = (await nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${name}`, "", { timeout: 5_000 })).json<{ success?: boolean; error?: { description?: string } }>();
      if (reply.success) return undefined;
      why = reply.error?.description ?? "refused without a reason";
    } catch (e) {
      why = (e as Error).message;
    }
    if (Date.now() >= deadline) return why;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** How long a nudged stream may take to elect its new leader before the nudge returns anyway. */
const NEW_LEADER_WAIT_MS = 10_000;

/** Polls the stream's info until it reports a leader (the stepdown's election is over). */
async function waitForLeader(nc: NatsConnection, name: string): Promise<void> {
  const deadline = Date.now() + NEW_LEADER_WAIT_MS;
  while (Date.now() < deadline) {
    try {
      const info = (await nc.request(`$JS.API.STREAM.INFO.${name}`, "", { timeout: 2_000 })).json<{ cluster?: { leader?: string }; error?: unknown }>();
      if (!info.error && info.cluster?.leader) return;
    } catch {
      // no answer while the election runs
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
