/**
 * Raw JetStream API requests over a pooled connection, and the error that carries the server's
 * `err_code` and description plus what to change. Requests go straight to `$JS[.<domain>].API.*`:
 * one round trip per call, no client-side feature probing.
 */
import type { ApiError } from "@nats-io/jetstream";
import type { JetStreamConnection } from "./connection-pool";

/**
 * JetStream API error codes this capability reacts to (nats-server `server/errors.json`). nats.js
 * exports 6 codes (`JetStreamApiCodes`); the names it shares are checked against its values at
 * compile time below. Only its type is imported: the provider process need not load
 * @nats-io/jetstream for 19 numbers.
 */
export const JsErrCode = {
  StreamNotFound: 10059,
  // "JetStream system temporarily unavailable": no meta or stream leader yet.
  ClusterNotAvailable: 10008,
  ConsumerNotFound: 10014,
  StreamNameInUse: 10058,
  SubjectsOverlap: 10065,
  ReplicasNotSupported: 10074,
  StreamInvalidConfig: 10052,
  MirrorNotUpdatable: 10055,
  ConsumerUpdateRefused: 10012,
  ConsumerExists: 10148,
  ConsumerNameExists: 10013,
  InsufficientResources: 10023,
  StorageFailed: 10047,
  NotEnabledForAccount: 10039,
  NotEnabled: 10076,
  NoMessageFound: 10037,
  MaximumStreamsLimit: 10027,
  ReplicasCountCannotBeNegative: 10133,
} as const;

// The codes nats.js also names must have its values: a mismatch fails `npm run typecheck` here.
({
  StreamNotFound: JsErrCode.StreamNotFound,
  ConsumerNotFound: JsErrCode.ConsumerNotFound,
  NoMessageFound: JsErrCode.NoMessageFound,
  JetStreamNotEnabledForAccount: JsErrCode.NotEnabledForAccount,
}) satisfies Pick<typeof import("@nats-io/jetstream").JetStreamApiCodes, "StreamNotFound" | "ConsumerNotFound" | "NoMessageFound" | "JetStreamNotEnabledForAccount">;

/** What the user should change for a given server error. */
function hintFor(errCode: number, subject: string): string {
  switch (errCode) {
    case JsErrCode.StreamNameInUse:
      return "a stream with this name already exists with a different configuration: set adopt: true on the resource to take it over (updated in place to the declared settings), or choose another name";
    case JsErrCode.SubjectsOverlap:
      return "another stream in this account and domain already captures some of these subjects: change `subjects` or remove the overlap";
    case JsErrCode.ReplicasNotSupported:
      return "this domain is a single server: set replicas to 1, or place the resource in the clustered hub domain";
    case JsErrCode.InsufficientResources:
    case JsErrCode.StorageFailed:
      return "lower max_bytes / replicas or raise the server's or account's JetStream limits (max_mem, max_file)";
    case JsErrCode.NotEnabledForAccount:
    case JsErrCode.NotEnabled:
      return "enable JetStream for this account and server (jetstream block, account jetstream limits)";
    case JsErrCode.ConsumerExists:
    case JsErrCode.ConsumerNameExists:
      return "a consumer with this name already exists with a different configuration: set adopt: true on the resource to take it over, or choose another name";
    case JsErrCode.ConsumerUpdateRefused:
      return "the server cannot change this consumer setting in place; the provider replaces the consumer for it — report this if you see it from `pulumi up`";
    case JsErrCode.MaximumStreamsLimit:
      return "the account's max_streams limit is reached: raise it or remove streams";
    case JsErrCode.StreamInvalidConfig:
      return "fix the setting named above";
    default:
      return `check the request on ${subject}`;
  }
}

/** A JetStream API error response: the server's code and text, plus what to do. */
export class JetStreamApiError extends Error {
  readonly code: number;
  readonly errCode: number;
  readonly description: string;
  constructor(code: number, errCode: number, description: string, context: string, subject: string) {
    super(`${context}: nats-server error ${errCode} (${code}): ${description} — ${hintFor(errCode, subject)}`);
    this.name = "JetStreamApiError";
    this.code = code;
    this.errCode = errCode;
    this.description = description;
  }
}

/** Whether `e` is the server saying the stream or consumer is not there. */
export function isNotFound(e: unknown): boolean {
  return e instanceof JetStreamApiError && (e.errCode === JsErrCode.StreamNotFound || e.errCode === JsErrCode.ConsumerNotFound || e.code === 404);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);

/**
 * One JetStream API request: `<apiPrefix>.<op>` with a JSON body; returns the parsed response
 * or throws JetStreamApiError. `context` names the resource for the message ("stream hub/X").
 */
export async function jsApi<T>(conn: JetStreamConnection, op: string, body: unknown, context: string, timeoutMs = 10_000): Promise<T> {
  // A hub whose members all restarted (a route transport change) answers once its meta and stream
  // leaders are elected: a request timing out then is asked again, until UNAVAILABLE_WINDOW_MS.
  // Every request sent here is idempotent (INFO, CREATE/UPDATE with the whole config, DELETE that
  // treats "not found" as done), so asking twice cannot apply anything twice.
  const until = Date.now() + UNAVAILABLE_WINDOW_MS;
  for (;;) {
    try {
      return await jsApiOnce<T>(conn, op, body, context, timeoutMs);
    } catch (e) {
      const transient = e instanceof TransientJetStreamError || (e instanceof JetStreamApiError && e.errCode === JsErrCode.ClusterNotAvailable);
      if (!transient || Date.now() + timeoutMs > until) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** How long a JetStream API that times out (leaders being elected) is asked again. */
export const UNAVAILABLE_WINDOW_MS = 45_000;

/** A request that timed out: the API may answer once leaders are elected. */
class TransientJetStreamError extends Error {}

async function jsApiOnce<T>(conn: JetStreamConnection, op: string, body: unknown, context: string, timeoutMs: number): Promise<T> {
  const subject = `${conn.apiPrefix}.${op}`;
  let reply;
  try {
    reply = await conn.nc.request(subject, body === undefined ? EMPTY : encoder.encode(JSON.stringify(body)), { timeout: timeoutMs });
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    if (/no responders|503/i.test(msg) || (e as { code?: string }).code === "503") {
      throw new Error(
        `${context}: no JetStream answers on ${subject}${conn.domain ? ` (domain ${conn.domain})` : ""}: ` +
          "check that the servers run JetStream, that target.domain names their domain, and that the credentials' account has JetStream",
      );
    }
    if (/timeout/i.test(msg) || (e as { code?: string }).code === "TIMEOUT") throw new TransientJetStreamError(`${context}: request ${subject} failed: ${msg}`);
    throw new Error(`${context}: request ${subject} failed: ${msg}`);
  }
  const r = JSON.parse(decoder.decode(reply.data)) as T & { error?: ApiError };
  throwIfApiError(r, context, subject);
  return r;
}

/** Throws the server's error when a JetStream reply (API response or publish ack) carries one. */
export function throwIfApiError(reply: { readonly error?: ApiError }, context: string, subject: string): void {
  if (reply.error) throw new JetStreamApiError(reply.error.code, reply.error.err_code ?? 0, reply.error.description, context, subject);
}
