/**
 * A client of the CID object service (protocol in cid.ts): put bytes and get their CID, get the
 * bytes of a CID, chunking both ways when an object is above one message. Used by tests, the
 * verify command and the benchmarks; services can copy it.
 */
import { headers as natsHeaders, type Msg, type NatsConnection } from "@nats-io/nats-core";
import { chunkBytesFor, cidOf, Header, intHeader, replyError, serviceSubjects } from "./cid";

export type CidClientOptions = {
  /** Subject prefix, e.g. `cimstor.objects`. */
  readonly subjectPrefix: string;
  /** Per request. Default 10 s. */
  readonly timeoutMs?: number;
};

function throwIfError(m: Msg, what: string): Msg {
  const e = replyError(m.headers);
  if (e) throw Object.assign(new Error(`${what}: ${e.code} ${e.message}`), e);
  return m;
}

/** Stores `bytes`, returns the CID the service replied (whole in one request when they fit, else chunked). */
export async function putObject(nc: NatsConnection, bytes: Uint8Array, options: CidClientOptions): Promise<string> {
  const subjects = serviceSubjects(options.subjectPrefix);
  const timeout = options.timeoutMs ?? 10_000;
  const chunkBytes = chunkBytesFor(nc.info?.max_payload ?? 1024 * 1024);
  if (bytes.length <= chunkBytes) {
    return throwIfError(await nc.request(subjects.put, bytes, { timeout }), "put").string();
  }
  const upload = `u${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
  let reply: Msg | undefined;
  for (let i = 0, off = 0; off < bytes.length; i++, off += chunkBytes) {
    const h = natsHeaders();
    h.set(Header.Upload, upload);
    h.set(Header.Chunk, String(i));
    if (off + chunkBytes >= bytes.length) h.set(Header.Last, "true");
    reply = throwIfError(await nc.request(subjects.put, bytes.subarray(off, off + chunkBytes), { timeout, headers: h }), `put chunk ${i}`);
  }
  return reply!.string();
}

/** The bytes of `cid` (chunked when the service says it is too large for one reply); checks the CID itself too. */
export async function getObject(nc: NatsConnection, cid: string, options: CidClientOptions): Promise<Uint8Array> {
  const subject = serviceSubjects(options.subjectPrefix).getOf(cid);
  const timeout = options.timeoutMs ?? 10_000;
  const first = await nc.request(subject, new Uint8Array(0), { timeout });
  const e = replyError(first.headers);
  if (!e) return first.data;
  const chunks = intHeader(first.headers?.has(Header.Chunks) ? first.headers.get(Header.Chunks) : undefined);
  if (e.code !== 413 || chunks === undefined || Number.isNaN(chunks)) throwIfError(first, `get ${cid}`);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < chunks!; i++) {
    const h = natsHeaders();
    h.set(Header.Chunk, String(i));
    parts.push(throwIfError(await nc.request(subject, new Uint8Array(0), { timeout, headers: h }), `get ${cid} chunk ${i}`).data);
  }
  const bytes = Buffer.concat(parts);
  const actual = cidOf(bytes);
  if (actual !== cid) throw new Error(`get ${cid}: the ${bytes.length} bytes received hash to ${actual}`);
  return bytes;
}
