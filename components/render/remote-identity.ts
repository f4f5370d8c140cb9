/**
 * A leafnode remote whose `deny_imports` are part of its identity, so a change of them reloads.
 *
 * nats-server 2.15.2 keys a remote by urls + account + credentials (`RemoteLeafOpts.name()`):
 * on SIGHUP a remote with a new key is remove + add (the link is re-dialled, measured: the hub's
 * sourcing of the leaf's stream resumes within 25 ms, 0 failed acked publishes at the leaf), while
 * a changed `deny_imports` on an unchanged key is refused ("config reload not supported") and
 * needed a restart (measured: 75–86 failed acked publishes at the leaf during lame duck, the
 * hub's source stalled 13.5 s on its retry backoff). So each URL carries the deny set's digest as
 * a query (`nats-leaf://10.0.0.41:7422?deny_imports=3f2a…`): nats-server dials the host and port
 * only, and a new deny set is a new remote. Pure.
 */
import { createHash } from "node:crypto";

const PARAM = "deny_imports";

/** 12 hex digits of sha256 over the sorted deny set (order does not change what is denied). */
export function denyImportsDigest(deny: readonly string[]): string {
  return createHash("sha256").update(JSON.stringify([...deny].sort())).digest("hex").slice(0, 12);
}

/** `url` tagged with the digest of `deny` (unchanged when nothing is denied). */
export function withDenyImportsTag(url: string, deny: readonly string[]): string {
  return deny.length === 0 ? url : `${url}?${PARAM}=${denyImportsDigest(deny)}`;
}

/** Whether every URL of a remote carries the digest of its own `deny_imports`: then a change of them changes its identity. */
export function denyImportsInIdentity(urls: unknown, deny: unknown): boolean {
  if (!Array.isArray(urls) || urls.length === 0 || !Array.isArray(deny) || !deny.every((d) => typeof d === "string")) return false;
  const tag = `?${PARAM}=${denyImportsDigest(deny as string[])}`;
  return urls.every((u) => typeof u === "string" && u.endsWith(tag));
}
