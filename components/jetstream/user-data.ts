/**
 * What a store holds that only its users put there, asked of the live server: the data-loss
 * guard counts this, not raw messages.
 *
 * A stream or object bucket: every message. A KV bucket: every key whose latest revision is a
 * value, except the stack's own declared entries holding their declared value — those the
 * stack writes again wherever the bucket is declared, and delete or purge markers (what
 * `nats kv del/purge` leaves behind) hold nothing. So a leaf whose operator backed up and purged
 * its streams can leave the topology without lifting the guard for the whole stack.
 */
import { createHash } from "node:crypto";
import { isNotFound, jsApi, JetStreamApiError, JsErrCode } from "./api";
import { jetStreamConnection } from "./connection-pool";
import type { LiveStore } from "./data-loss-plan";
import { normalizeStreamConfig } from "./stream-config";
import type { StreamConfig } from "./stream-config";
import type { ConnectionTarget } from "./types";

export type { LiveStore } from "./data-loss-plan";

/** sha256 of a declared KV value: the guard's state keeps hashes, not values. */
export function valueHash(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

/** Above this many keys a bucket is simply counted as user data (no per-key reads). */
const MAX_KEYS_INSPECTED = 1000;

type InfoWithSubjects = { config: StreamConfig & Record<string, unknown>; state: { messages: number; num_subjects?: number; subjects?: Record<string, number> } };
type StoredMsg = { message: { subject: string; data?: string; hdrs?: string } };

/**
 * The live store, or undefined when it is gone. `kvBucket` and `declaredEntries` (key → value
 * hash) make it count a KV bucket's user data; without them every message counts. Throws when the
 * servers cannot be reached.
 */
export async function liveStore(target: ConnectionTarget, streamName: string, kvBucket?: string, declaredEntries: Readonly<Record<string, string>> = {}): Promise<LiveStore | undefined> {
  const conn = await jetStreamConnection(target);
  const what = `stream ${target.domain ? `${target.domain}/` : ""}${streamName}`;
  let info: InfoWithSubjects;
  try {
    info = await jsApi<InfoWithSubjects>(conn, `STREAM.INFO.${streamName}`, kvBucket ? { subjects_filter: `$KV.${kvBucket}.>` } : undefined, what);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
  const config = normalizeStreamConfig(info.config);
  const messages = info.state.messages;
  if (!kvBucket || messages === 0) return { userMessages: messages, messages, config };
  const subjects = Object.keys(info.state.subjects ?? {});
  if (subjects.length > MAX_KEYS_INSPECTED || (info.state.num_subjects ?? subjects.length) > subjects.length) return { userMessages: messages, messages, config };
  let userMessages = 0;
  for (const subject of subjects) {
    let m: StoredMsg;
    try {
      m = await jsApi<StoredMsg>(conn, `STREAM.MSG.GET.${streamName}`, { last_by_subj: subject }, what);
    } catch (e) {
      if (e instanceof JetStreamApiError && e.errCode === JsErrCode.NoMessageFound) continue;
      throw e;
    }
    const hdrs = m.message.hdrs ? Buffer.from(m.message.hdrs, "base64").toString("utf8") : "";
    if (/^KV-Operation:\s*(DEL|PURGE)\s*$/im.test(hdrs)) continue;
    const key = subject.slice(`$KV.${kvBucket}.`.length);
    const value = Buffer.from(m.message.data ?? "", "base64").toString("utf8");
    if (declaredEntries[key] !== undefined && declaredEntries[key] === valueHash(value)) continue;
    userMessages += info.state.subjects![subject];
  }
  return { userMessages, messages, config };
}
