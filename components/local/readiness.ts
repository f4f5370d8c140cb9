/**
 * When a local server counts as ready, asked over HTTP (its monitoring port): healthy, for a hub
 * member JetStream-current, for a leaf linked to the hub; and whether a quorum of hub members runs.
 */
import { blockField, readRenderedConf } from "./conf-reader";
import type { LocalServerInputs } from "./local-server-types";
import { DEFAULT_HEALTH_TIMEOUT_SECONDS } from "./local-server-types";
import { type HealthCheck, waitHealthy, waitJetStreamCurrent } from "./nats-process";
import { noteInLog, serverPaths } from "./server-dir";

/** Whether a config runs clustered JetStream (a hub member), read from the text when it can be. */
export function isClustered(configText: string): boolean {
  const tree = readRenderedConf(configText);
  return tree ? tree.cluster !== undefined && tree.jetstream !== undefined : /^\s*cluster\s*[:={]/m.test(configText);
}

/** Leaf remotes in a config (0 for a hub member or a hand-written config). */
export function leafRemotes(configText: string): number {
  const remotes = blockField(readRenderedConf(configText), "leafnodes", "remotes");
  return Array.isArray(remotes) ? remotes.length : 0;
}

/** After a (re)start or reload: healthy, and for a hub member JetStream-current, before the next member goes. */
export async function waitReady(inputs: LocalServerInputs, pid: number, check: HealthCheck): Promise<void> {
  const timeoutMs = (inputs.healthTimeoutSeconds ?? DEFAULT_HEALTH_TIMEOUT_SECONDS) * 1000;
  if (check === "full" && isClustered(inputs.configText)) await waitJetStreamCurrent(inputs.monitoringUrl, timeoutMs, pid);
  else await waitHealthy(inputs.monitoringUrl, timeoutMs, pid, check);
  // Not the leaf's links: in operator mode they come up only once the account JWTs listing the
  // link users' keys are pushed, which needs every server up; the data account's push waits for them.
  if (check === "full" && !operatorMode(inputs.configText)) await waitLinked(inputs);
}

/** Whether a rendered config runs in operator mode (its links then wait for the JWT pushes, not for the server). */
function operatorMode(configText: string): boolean {
  return readRenderedConf(configText)?.operator !== undefined;
}

/** How long a leaf waits for its hub link before it counts as ready anyway (leaves work cut off). */
const LINK_WAIT_MS = 20_000;

/**
 * A leaf is ready when it is linked to the hub too — what depends on it (an aggregate sourcing its
 * stream) then finds the link up: a source whose first attempts fail is retried on nats-server's
 * backoff (10 s × failures, up to 2 min), which left sources idle for over 30 s after a fresh
 * `up`. A leaf whose hub stays away is ready after LINK_WAIT_MS all the same (noted in its log).
 * Returns whether it is linked.
 */
export async function waitLinked(inputs: LocalServerInputs): Promise<boolean> {
  const expected = leafRemotes(inputs.configText);
  if (expected === 0) return false;
  const deadline = Date.now() + LINK_WAIT_MS;
  for (;;) {
    try {
      const leafz = (await (await fetch(`${inputs.monitoringUrl}/leafz`, { signal: AbortSignal.timeout(2_000) })).json()) as { leafnodes?: number };
      if ((leafz.leafnodes ?? 0) >= expected) return true;
    } catch {
      // not answering yet
    }
    if (Date.now() > deadline) {
      noteInLog(serverPaths(inputs.dataDir).logPath, `not linked to the hub after ${LINK_WAIT_MS / 1000} s; ready anyway (a leaf works cut off)`);
      return false;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether anything answers HTTP at the monitoring URL. */
export async function answers(monitoringUrl: string): Promise<boolean> {
  try {
    await fetch(`${monitoringUrl}/healthz`, { signal: AbortSignal.timeout(1_000) });
    return true;
  } catch {
    return false;
  }
}

/** Peers whose JetStream server runs now (`/healthz?js-server-only=true` answers 200). */
export async function peersRunning(monitoringUrls: readonly string[]): Promise<number> {
  const up = await Promise.all(
    monitoringUrls.map(async (url) => {
      try {
        return (await fetch(`${url}/healthz?js-server-only=true`, { signal: AbortSignal.timeout(1_000) })).status === 200;
      } catch {
        return false;
      }
    }),
  );
  return up.filter(Boolean).length;
}

/** Whether a member with `running` peers up (of `peers`) makes a JetStream quorum once it runs too. */
export function quorumWith(running: number, peers: number): boolean {
  return running + 1 >= Math.floor((peers + 1) / 2) + 1;
}

/** Streams of every account on a server with their message counts, for those holding any (from /jsz). */
export async function streamsHoldingMessages(monitoringUrl: string): Promise<[string, number][]> {
  type Jsz = { account_details?: { stream_detail?: { name: string; state?: { messages?: number } }[] }[] };
  try {
    const jsz = (await (await fetch(`${monitoringUrl}/jsz?accounts=true&streams=true`, { signal: AbortSignal.timeout(2_000) })).json()) as Jsz;
    return (jsz.account_details ?? []).flatMap((a) => (a.stream_detail ?? []).map((st) => [st.name, st.state?.messages ?? 0] as [string, number])).filter(([, m]) => m > 0);
  } catch {
    return [];
  }
}
