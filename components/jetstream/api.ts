/**
 * Raw JetStream API requests over a pooled connection, and the error that carries the server's
 * `err_code` and description plus what to change. Requests go straight to `$JS[.<domain>].API.*`:
 * one round trip per call, no client-side feature probing.
 */
import type { JetStreamConnection } from "./connection-pool";

/** JetStream API error codes this capability reacts to (nats-server `server/errors.json`). */
export const JsErrCode = {
  StreamNotFound: 10059,
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
    throw new Error(`${context}: request ${subject} failed: ${msg}`);
  }
  const r = JSON.parse(decoder.decode(reply.data)) as T & { error?: { code: number; err_code: number; description: string } };
  if (r.error) throw new JetStreamApiError(r.error.code, r.error.err_code, r.error.description, context, subject);
  return r;
}
