/**
 * Content identifiers and the wire protocol of cimstor's object service. Pure: bytes and headers
 * in, values out; no NATS, no Pulumi.
 *
 * CIDs are CIDv1, raw codec (0x55), sha2-256, base32 lower (`bafkrei…`) of the whole content, made
 * by `multiformats` (the IPFS/IPLD library), so `ipfs add --cid-version 1 --raw-leaves` and any
 * other IPLD tool compute the same CID for the same bytes.
 *
 * Protocol (docs/cid.md has the walkthrough):
 * - `<prefix>.put`, body = the whole object (≤ `chunkBytes`): reply body = CID text, headers
 *   `Cim-Cid`, `Cim-Size`.
 * - Chunked put (objects above the max payload): requests on `<prefix>.put` with headers
 *   `Cim-Upload: <client-chosen id>`, `Cim-Chunk: <0,1,2…>` and, on the last one,
 *   `Cim-Last: true`. Every chunk is answered (`Cim-Chunk` echoed); the last reply carries the CID.
 *   Chunks arrive in order (the client waits for each reply); an upload idle for
 *   UPLOAD_IDLE_MS is dropped.
 * - `<prefix>.get.<cid>`: reply body = the bytes when they fit (`Cim-Size`, `Cim-Cid`,
 *   `Cim-Chunks: 1`); a larger object answers `Nats-Service-Error-Code: 413` with
 *   `Cim-Size`, `Cim-Chunks: <n>`, `Cim-Bucket` and `Cim-Object` (for `nats object get <bucket>
 *   <cid>`), and each chunk is then a request with header `Cim-Chunk: <i>`.
 * - Errors use the NATS services convention: headers `Nats-Service-Error-Code` (HTTP-like) and
 *   `Nats-Service-Error` (message), body = the message. 400 malformed, 404 unknown CID,
 *   409 stored bytes do not hash to the CID, 413 too large for one reply, 500 store failure.
 */
import { createHash } from "node:crypto";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { create as createDigest } from "multiformats/hashes/digest";
import { sha256 } from "multiformats/hashes/sha2";

/** The published CID of the empty byte string (CIDv1 raw sha2-256), e.g. `ipfs add --cid-version 1 --raw-leaves /dev/null`. */
export const EMPTY_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
/** Subject prefix of the service (`cimstor.objects.put`, `cimstor.objects.get.<cid>`). */
export const DEFAULT_SUBJECT_PREFIX = "cimstor.objects";
/** The object bucket it stores into, the CID as the object name. */
export const DEFAULT_BUCKET = "CLUSTER_OBJECTS";
/** Room left under the server's max payload for headers in a reply carrying bytes. */
export const HEADER_ROOM_BYTES = 8 * 1024;
/** A chunked upload nobody continued for this long is dropped. */
export const UPLOAD_IDLE_MS = 60_000;
/** Largest object a chunked upload may assemble (held in memory until its CID is known). */
export const DEFAULT_MAX_UPLOAD_BYTES = 256 * 1024 * 1024;
/** Bytes of unfinished chunked uploads the service holds at once, all clients together (a memory cap). */
export const DEFAULT_MAX_PENDING_BYTES = 256 * 1024 * 1024;

export const Header = {
  Cid: "Cim-Cid",
  Size: "Cim-Size",
  Chunk: "Cim-Chunk",
  Chunks: "Cim-Chunks",
  Upload: "Cim-Upload",
  Last: "Cim-Last",
  Bucket: "Cim-Bucket",
  Object: "Cim-Object",
  ErrorCode: "Nats-Service-Error-Code",
  Error: "Nats-Service-Error",
} as const;

export const ErrorCode = { BadRequest: 400, NotFound: 404, Mismatch: 409, TooLarge: 413, Internal: 500, Unavailable: 503 } as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The CID (base32 text) of `bytes`. */
export function cidOf(bytes: Uint8Array): string {
  return CID.create(1, raw.code, sha256.digest(bytes) as ReturnType<typeof createDigest>).toString();
}

/** The CID of content whose sha2-256 digest is `digest` (32 bytes), e.g. from an incremental hash. */
export function cidFromSha256(digest: Uint8Array): string {
  return CID.create(1, raw.code, createDigest(sha256.code, digest)).toString();
}

/** An incremental sha2-256 over chunks, ending in the CID. */
export function cidHasher(): { update(chunk: Uint8Array): void; cid(): string } {
  const h = createHash("sha256");
  return { update: (c) => void h.update(c), cid: () => cidFromSha256(new Uint8Array(h.digest())) };
}

/**
 * Why `text` is not a CID this service stores, or "" when it is: CIDv1, raw codec, sha2-256, in
 * its canonical base32 lower form (the object name must be exactly one spelling).
 */
export function cidReason(text: string): string {
  if (!/^b[a-z2-7]+$/.test(text)) return `'${text}' is not a base32 lower CIDv1 (expected 'bafkrei…': the letter b then a-z, 2-7)`;
  let cid: CID;
  try {
    cid = CID.parse(text);
  } catch (e) {
    return `'${text}' is not a CID: ${(e as Error).message}`;
  }
  if (cid.version !== 1) return `'${text}' is CIDv${cid.version}; this service stores CIDv1`;
  if (cid.code !== raw.code) return `'${text}' has codec 0x${cid.code.toString(16)}; this service stores raw (0x55) objects`;
  if (cid.multihash.code !== sha256.code) return `'${text}' uses multihash 0x${cid.multihash.code.toString(16)}; this service uses sha2-256 (0x12)`;
  if (cid.toString() !== text) return `'${text}' is not in canonical form; use '${cid.toString()}'`;
  return "";
}

/** The sha2-256 digest of a valid CID, as object stores write it (`SHA-256=<base64url>`). */
export function objectStoreDigest(cid: string): string {
  // Padded base64url, as nats.js and nats.go write it (Node's "base64url" leaves the padding off,
  // and an unpadded digest never matched a stored one: every repeated put rewrote its object).
  const b64 = Buffer.from(CID.parse(cid).multihash.digest).toString("base64url");
  return `SHA-256=${b64.padEnd(Math.ceil(b64.length / 4) * 4, "=")}`;
}

/** Bytes of one reply that carries content: the server's max payload less room for headers. */
export function chunkBytesFor(maxPayload: number): number {
  return Math.max(1024, maxPayload - HEADER_ROOM_BYTES);
}

/** How many chunks an object of `size` bytes takes (an empty object is one empty chunk). */
export function chunkCount(size: number, chunkBytes: number): number {
  return Math.max(1, Math.ceil(size / chunkBytes));
}

/** The byte range [start, end) of chunk `index`. */
export function chunkRange(index: number, size: number, chunkBytes: number): readonly [number, number] {
  const start = index * chunkBytes;
  return [start, Math.min(size, start + chunkBytes)];
}

/** A non-negative integer header value, or undefined when absent; NaN when present but not one. */
export function intHeader(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  return /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
}

/** The subjects of a prefix. */
export function serviceSubjects(prefix: string): { readonly put: string; readonly get: string; readonly getOf: (cid: string) => string; readonly all: string } {
  return { put: `${prefix}.put`, get: `${prefix}.get.*`, getOf: (cid) => `${prefix}.get.${cid}`, all: `${prefix}.>` };
}

/** An error reply: its headers and body. */
export type ErrorReply = { readonly code: ErrorCode; readonly message: string };

/** The error a reply carries, or undefined for a success (reads the standard service headers). */
export function replyError(headers: { get(k: string): string } | undefined): ErrorReply | undefined {
  const code = headers?.get(Header.ErrorCode);
  if (!code) return undefined;
  return { code: Number(code) as ErrorCode, message: headers!.get(Header.Error) };
}
