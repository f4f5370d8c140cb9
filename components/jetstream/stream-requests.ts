/**
 * Stream requests over a pooled connection, from canonical configs (stream-config.ts): read,
 * create (reading back), update in place (the desired settings overlaid on the live config),
 * adopt, and the guarded delete and replace. Streams, KV buckets, object buckets and the
 * removal guard all go through these.
 */
import { jsApi, isNotFound } from "./api";
import { deepEqual } from "../provider/canonical";
import { jetStreamConnection } from "./connection-pool";
import { approveReplacement, consumeApproval, dataLossAllowed, DataLossError } from "./data-loss";
import { normalizeStreamConfig, streamOneWayViolations, streamReplaceReasons, streamWireConfig } from "./stream-config";
import { describeAt } from "./target";
import type { StreamConfig } from "./stream-config";
import type { ConnectionTarget } from "./types";

/** Raw StreamInfo, the parts used here. */
export type StreamInfoResponse = { config: StreamConfig & Record<string, unknown>; state: { messages: number } };

const describe = (target: ConnectionTarget, name: string) => describeAt("stream", target, name);

/** Live stream info, or undefined when the stream does not exist. */
export async function streamInfo(target: ConnectionTarget, name: string): Promise<StreamInfoResponse | undefined> {
  const conn = await jetStreamConnection(target);
  try {
    return await jsApi<StreamInfoResponse>(conn, `STREAM.INFO.${name}`, undefined, describe(target, name));
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** Creates the stream (idempotent for an identical existing one) and reads it back. */
export async function createStreamFromConfig(target: ConnectionTarget, cfg: StreamConfig): Promise<StreamConfig> {
  const conn = await jetStreamConnection(target);
  const what = describe(target, cfg.name);
  // The server refuses `sealed` at create: create open, then seal with an update.
  let r = await jsApi<StreamInfoResponse>(conn, `STREAM.CREATE.${cfg.name}`, streamWireConfig({ ...cfg, sealed: false }), what);
  if (cfg.sealed) r = await jsApi<StreamInfoResponse>(conn, `STREAM.UPDATE.${cfg.name}`, { ...r.config, sealed: true }, what);
  return normalizeStreamConfig(r.config);
}

/** Updates the stream in place: the desired settings overlaid on the live config. */
export async function updateStreamFromConfig(target: ConnectionTarget, cfg: StreamConfig): Promise<StreamConfig> {
  const conn = await jetStreamConnection(target);
  const what = describe(target, cfg.name);
  const live = await streamInfo(target, cfg.name);
  // Gone (its server's store was wiped): create it again.
  if (!live) return createStreamFromConfig(target, cfg);
  const body: Record<string, unknown> = { ...live.config, ...streamWireConfig(cfg, live.config) };
  // Keys the desired config leaves unset must not survive from the live config.
  for (const k of ["placement", "mirror", "subject_transform", "republish"] as const) if (cfg[k] === undefined) delete body[k];
  const r = await jsApi<StreamInfoResponse>(conn, `STREAM.UPDATE.${cfg.name}`, body, what);
  return normalizeStreamConfig(r.config);
}

/**
 * `adopt: true` on create: an existing stream is taken over and updated in place to `cfg`;
 * settings that would need a replacement or turn a one-way setting off fail instead.
 * Returns undefined when there is nothing to adopt (create it then).
 */
export async function adoptStream(target: ConnectionTarget, cfg: StreamConfig, what = describe(target, cfg.name)): Promise<StreamConfig | undefined> {
  const info = await streamInfo(target, cfg.name);
  if (!info) return undefined;
  const current = normalizeStreamConfig(info.config);
  const problems = [...streamOneWayViolations(current, cfg, what), ...Object.values(streamReplaceReasons(current, cfg)).map((r) => `${what}: cannot adopt: ${r}; declare the existing value`)];
  if (problems.length) throw new Error(problems.join("\n"));
  return deepEqual(current, cfg) ? current : updateStreamFromConfig(target, cfg);
}

/** Deletes the stream behind the data-loss guard; a missing stream counts as deleted. */
export async function deleteStreamGuarded(target: ConnectionTarget, name: string, id: string, allowDataLoss: boolean | undefined, what = describe(target, name)): Promise<void> {
  const conn = await jetStreamConnection(target);
  if (!dataLossAllowed(id, allowDataLoss)) {
    // The guard's one extra round trip, on the connection already in hand. It cannot be skipped
    // safely: a stream takes messages at any time, so only the server knows it is empty now.
    let info: StreamInfoResponse;
    try {
      info = await jsApi<StreamInfoResponse>(conn, `STREAM.INFO.${name}`, undefined, what);
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    if (info.state.messages > 0) throw new DataLossError(what, info.state.messages, "delete");
  }
  try {
    await jsApi(conn, `STREAM.DELETE.${name}`, undefined, what);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  consumeApproval(id);
}

/**
 * The guard for a replacement diff: throws when the stream holds messages and `allowDataLoss`
 * is not set; records the approval otherwise.
 */
export async function guardReplacement(id: string, target: ConnectionTarget, name: string, allowDataLoss: boolean | undefined, because: string, what: string): Promise<void> {
  const info = await streamInfo(target, name);
  if (!info || info.state.messages === 0) return;
  if (allowDataLoss !== true) throw new DataLossError(what, info.state.messages, "replace", because);
  approveReplacement(id);
}
