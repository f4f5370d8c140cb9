/**
 * The CID object service over one NATS connection: answers `<prefix>.put` and
 * `<prefix>.get.<cid>` (protocol in cid.ts) over an object bucket, the CID as the object name.
 * Every request is answered, a bad one with an error reply; no request can end the process.
 * The caller owns the connection (reconnects, drain on stop): subscriptions survive reconnects.
 */
import { headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/nats-core";
import { Objm, type ObjectInfo } from "@nats-io/obj";
import type { ApiError } from "@nats-io/jetstream";
import {
  chunkBytesFor,
  chunkCount,
  chunkRange,
  cidHasher,
  cidOf,
  cidReason,
  DEFAULT_MAX_PENDING_BYTES,
  DEFAULT_MAX_UPLOAD_BYTES,
  ErrorCode,
  Header,
  intHeader,
  objectStoreDigest,
  serviceSubjects,
  UPLOAD_IDLE_MS,
} from "./cid";

export type CidServiceOptions = {
  /** Object bucket (must exist: the stack declares it). */
  readonly bucket: string;
  /** Subject prefix, e.g. `cimstor.objects`. */
  readonly subjectPrefix: string;
  /** Queue group, so several instances share the requests. Default `cid-service`. */
  readonly queue?: string;
  /** Largest chunked upload. Default 256 MiB. */
  readonly maxUploadBytes?: number;
  /**
   * Bytes of unfinished uploads held in memory at once, across every client. A chunk that would
   * go over is refused with 503 (retry later). Default 256 MiB.
   */
  readonly maxPendingBytes?: number;
  /** Bytes per reply; default from the server's max payload. */
  readonly chunkBytes?: number;
  /** Called on every error reply and internal failure (for the log). */
  readonly log?: (line: string) => void;
};

export type CidService = {
  /** Requests answered so far, by outcome. */
  readonly stats: { puts: number; gets: number; chunks: number; errors: number; unchanged: number; pendingBytes: number };
  readonly subscriptions: readonly Subscription[];
  readonly chunkBytes: number;
};

type Upload = { parts: Uint8Array[]; next: number; size: number; hasher: ReturnType<typeof cidHasher>; timer: NodeJS.Timeout };

/** An error that becomes an error reply with its code (anything else thrown is a 500). */
type ReplyFailure = Error & { readonly replyCode: ErrorCode; readonly replyHeaders: Record<string, string> };
const replyFailure = (code: ErrorCode, message: string, headers: Record<string, string> = {}): ReplyFailure =>
  Object.assign(new Error(message), { replyCode: code, replyHeaders: headers });
const isReplyFailure = (e: unknown): e is ReplyFailure => e instanceof Error && "replyCode" in e;

/**
 * Who sent a request, so an upload continues only from the connection that started it. A request
 * through a service import (clients in another account) carries the server's `Nats-Request-Info`
 * (the import shares it: account, server, connection id); a direct one is scoped by its reply
 * subject's inbox (a connection's own mux inbox). Neither can be chosen by another client.
 */
function requesterScope(msg: Msg): string {
  const info = hdr(msg.headers, "Nats-Request-Info");
  if (info) {
    try {
      const i = JSON.parse(info) as { acc?: string; server?: string; id?: number };
      if (i.acc && i.id !== undefined) return `${i.acc}/${i.server ?? ""}/${i.id}`;
    } catch {
      // not the server's JSON: fall back to the reply subject
    }
  }
  const reply = msg.reply ?? "";
  return reply.slice(0, Math.max(0, reply.lastIndexOf(".")));
}

/** A header value must be one line. */
const oneLine = (s: string) => s.replace(/[\r\n]+/g, " ").slice(0, 1024);

function respond(msg: Msg, body: Uint8Array | string, h: Record<string, string>): void {
  if (!msg.reply) return;
  const hdrs = natsHeaders();
  for (const [k, v] of Object.entries(h)) hdrs.set(k, v);
  msg.respond(typeof body === "string" ? new TextEncoder().encode(body) : body, { headers: hdrs });
}

function respondError(msg: Msg, code: ErrorCode, message: string, extra: Record<string, string> = {}): void {
  respond(msg, message, { ...extra, [Header.ErrorCode]: String(code), [Header.Error]: oneLine(message) });
}

const hdr = (h: MsgHdrs | undefined, k: string): string | undefined => (h?.has(k) ? h.get(k) : undefined);

/**
 * The content of an object, chunk by chunk through `STREAM.MSG.GET` (`next_by_subj` on the
 * object's chunk subject): no consumer per get, so thousands of concurrent gets create nothing
 * on the server (nats.js `ObjectStore.get` makes an ordered consumer each time, and the server's
 * consumer limit ended a 1,000-get burst here).
 */
async function readChunks(nc: NatsConnection, bucket: string, info: ObjectInfo): Promise<Uint8Array> {
  const api = `$JS.API.STREAM.MSG.GET.OBJ_${bucket}`;
  const subject = `$O.${bucket}.C.${info.nuid}`;
  const parts: Uint8Array[] = [];
  let seq = 0;
  let size = 0;
  while (parts.length < info.chunks) {
    const r = await nc.request(api, new TextEncoder().encode(JSON.stringify({ seq, next_by_subj: subject })), { timeout: 10_000 });
    const body = JSON.parse(new TextDecoder().decode(r.data)) as { message?: { seq: number; data?: string }; error?: ApiError };
    if (body.error || !body.message) {
      if (body.error?.code === 404) throw replyFailure(ErrorCode.Mismatch, `object '${info.name}' in the store is missing chunk ${parts.length + 1} of ${info.chunks}`);
      throw new Error(`reading object '${info.name}': ${body.error?.description ?? "no message"}`);
    }
    const data = Buffer.from(body.message.data ?? "", "base64");
    parts.push(data);
    size += data.length;
    seq = body.message.seq + 1;
  }
  if (size !== info.size) throw replyFailure(ErrorCode.Mismatch, `object '${info.name}' in the store has ${size} bytes in its chunks, its metadata says ${info.size}`);
  return Buffer.concat(parts);
}

/** Starts answering; returns at once with live counters. */
export async function startCidService(nc: NatsConnection, options: CidServiceOptions): Promise<CidService> {
  const log = options.log ?? (() => {});
  const store = await new Objm(nc).open(options.bucket);
  const chunkBytes = options.chunkBytes ?? chunkBytesFor(nc.info?.max_payload ?? 1024 * 1024);
  const maxUpload = options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  const maxPending = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
  const subjects = serviceSubjects(options.subjectPrefix);
  const queue = options.queue ?? "cid-service";
  const stats = { puts: 0, gets: 0, chunks: 0, errors: 0, unchanged: 0, pendingBytes: 0 };
  // Unfinished uploads by `<requester>\u0000<upload id>`: another client's id never touches them.
  const uploads = new Map<string, Upload>();
  const pendingBytes = () => [...uploads.values()].reduce((n, u) => n + u.size, 0);
  // Verified content of large objects by `<cid>/<nuid>`: a chunked get hashes the whole object
  // once; any later write (a tampering overwrite too) gets a new nuid and is verified again.
  const verified = new Map<string, { bytes: Uint8Array; timer: NodeJS.Timeout }>();

  /** Stores `bytes` under their CID unless an identical object is already there (then nothing is written). */
  const store1 = async (bytes: Uint8Array, cid: string) => {
    const existing = await store.info(cid);
    if (existing && !existing.deleted && existing.size === bytes.length && existing.digest === objectStoreDigest(cid)) {
      stats.unchanged++;
      return;
    }
    await store.putBlob({ name: cid, description: "CIDv1 raw sha2-256 of the content" }, bytes);
  };

  /** The stored bytes of `cid`, re-hashed; throws a reply failure (404 unknown, 409 mismatch). */
  const verifiedBytes = async (cid: string, cacheLarge: boolean) => {
    const info = await store.info(cid);
    if (!info || info.deleted) throw replyFailure(ErrorCode.NotFound, `no object with CID ${cid} in bucket ${options.bucket}`);
    const key = `${cid}/${info.nuid}`;
    const cached = verified.get(key);
    if (cached) return { bytes: cached.bytes, info };
    const bytes = info.size === 0 ? new Uint8Array(0) : await readChunks(nc, options.bucket, info);
    const actual = cidOf(bytes);
    if (actual !== cid) {
      throw replyFailure(ErrorCode.Mismatch, `stored object ${cid} does not match its CID: its ${bytes.length} bytes hash to ${actual} (the object was changed in the store)`);
    }
    if (cacheLarge && bytes.length > chunkBytes) {
      const timer = setTimeout(() => verified.delete(key), 30_000);
      timer.unref();
      verified.set(key, { bytes, timer });
    }
    return { bytes, info };
  };

  const onGet = async (msg: Msg) => {
    const cid = msg.subject.slice(`${options.subjectPrefix}.get.`.length);
    const reason = cidReason(cid);
    if (reason) throw replyFailure(ErrorCode.BadRequest, reason);
    const chunk = intHeader(hdr(msg.headers, Header.Chunk));
    if (Number.isNaN(chunk)) throw replyFailure(ErrorCode.BadRequest, `${Header.Chunk} must be a chunk index (0, 1, …)`);
    const { bytes } = await verifiedBytes(cid, true);
    const chunks = chunkCount(bytes.length, chunkBytes);
    const meta = { [Header.Cid]: cid, [Header.Size]: String(bytes.length), [Header.Chunks]: String(chunks) };
    if (chunk === undefined) {
      if (chunks > 1) {
        throw replyFailure(
          ErrorCode.TooLarge,
          `object ${cid} is ${bytes.length} bytes, above one reply (${chunkBytes}): fetch it with \`nats object get ${options.bucket} ${cid}\`, or ask for chunks 0..${chunks - 1} with header ${Header.Chunk}`,
          { ...meta, [Header.Bucket]: options.bucket, [Header.Object]: cid },
        );
      }
      stats.gets++;
      return respond(msg, bytes, meta);
    }
    if (chunk >= chunks) throw replyFailure(ErrorCode.BadRequest, `object ${cid} has ${chunks} chunk(s) (0..${chunks - 1}); chunk ${chunk} does not exist`);
    const [start, end] = chunkRange(chunk, bytes.length, chunkBytes);
    stats.chunks++;
    respond(msg, bytes.subarray(start, end), { ...meta, [Header.Chunk]: String(chunk) });
  };

  const onPut = async (msg: Msg) => {
    const uploadId = hdr(msg.headers, Header.Upload);
    if (uploadId === undefined) {
      const bytes = msg.data;
      const cid = cidOf(bytes);
      await store1(bytes, cid);
      stats.puts++;
      return respond(msg, cid, { [Header.Cid]: cid, [Header.Size]: String(bytes.length) });
    }
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(uploadId)) throw replyFailure(ErrorCode.BadRequest, `${Header.Upload} '${uploadId}' must be 1-64 letters, digits, '-' or '_'`);
    const chunk = intHeader(hdr(msg.headers, Header.Chunk));
    if (chunk === undefined || Number.isNaN(chunk)) throw replyFailure(ErrorCode.BadRequest, `a chunked upload needs ${Header.Chunk}: 0, 1, … in order`);
    const key = `${requesterScope(msg)}\u0000${uploadId}`;
    let up = uploads.get(key);
    const drop = () => {
      if (up) clearTimeout(up.timer);
      uploads.delete(key);
      stats.pendingBytes = pendingBytes();
    };
    if (chunk === 0) {
      drop();
      up = { parts: [], next: 0, size: 0, hasher: cidHasher(), timer: setTimeout(() => {}, 0) };
      uploads.set(key, up);
    }
    if (!up || up.next !== chunk) {
      const expected = up?.next;
      drop();
      throw replyFailure(ErrorCode.BadRequest, `upload '${uploadId}': got chunk ${chunk}, expected ${expected ?? 0 /* a new upload starts at 0 */}; start again at chunk 0`);
    }
    clearTimeout(up.timer);
    up.timer = setTimeout(() => {
      uploads.delete(key);
      stats.pendingBytes = pendingBytes();
    }, UPLOAD_IDLE_MS);
    up.timer.unref();
    if (up.size + msg.data.length > maxUpload) {
      drop();
      throw replyFailure(ErrorCode.TooLarge, `upload '${uploadId}' is above ${maxUpload} bytes, the most this service assembles`);
    }
    const held = pendingBytes();
    if (held + msg.data.length > maxPending) {
      // The chunk is refused, not the upload: the client may send it again once others finished.
      throw replyFailure(
        ErrorCode.Unavailable,
        `the service holds ${held} bytes of unfinished uploads (its cap is ${maxPending}): send chunk ${chunk} of '${uploadId}' again later`,
        { [Header.Upload]: uploadId, [Header.Chunk]: String(chunk) },
      );
    }
    up.size += msg.data.length;
    stats.pendingBytes = held + msg.data.length;
    up.parts.push(msg.data);
    up.hasher.update(msg.data);
    up.next++;
    if (hdr(msg.headers, Header.Last) !== "true") return respond(msg, "", { [Header.Upload]: uploadId, [Header.Chunk]: String(chunk) });
    drop();
    const cid = up.hasher.cid();
    await store1(Buffer.concat(up.parts), cid);
    stats.puts++;
    respond(msg, cid, { [Header.Cid]: cid, [Header.Size]: String(up.size), [Header.Upload]: uploadId, [Header.Chunk]: String(chunk) });
  };

  const handle = (what: string, fn: (m: Msg) => Promise<void>) => (err: Error | null, msg: Msg) => {
    if (err) {
      log(`${what} subscription: ${err.message}`);
      return;
    }
    fn(msg).catch((e: unknown) => {
      stats.errors++;
      const known = isReplyFailure(e);
      const code = known ? e.replyCode : ErrorCode.Internal;
      const message = known ? e.message : `${what} failed: ${(e as Error)?.message ?? String(e)}`;
      log(`${msg.subject}: ${code} ${message}`);
      try {
        respondError(msg, code, message, known ? e.replyHeaders : {});
      } catch (re) {
        log(`could not reply on ${msg.subject}: ${(re as Error).message}`);
      }
    });
  };

  const subscriptions = [
    nc.subscribe(subjects.put, { queue, callback: handle("put", onPut) }),
    nc.subscribe(subjects.get, { queue, callback: handle("get", onGet) }),
  ];
  return { stats, subscriptions, chunkBytes };
}
