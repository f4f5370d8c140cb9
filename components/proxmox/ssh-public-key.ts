/**
 * The public half of an OpenSSH-format private key, so config needs only the one secret: the
 * OpenSSH container stores the public key blob unencrypted right after the header (PROTOCOL.key
 * in OpenSSH's sources), even when the private part is passphrase-protected. Pure.
 */

const BEGIN = "-----BEGIN OPENSSH PRIVATE KEY-----";
const END = "-----END OPENSSH PRIVATE KEY-----";
const MAGIC = "openssh-key-v1\0";

/**
 * `<type> <base64 blob>` (an authorized_keys line without comment), or undefined when the key is
 * not an OpenSSH private key (PEM "RSA PRIVATE KEY" and PKCS#8 keys carry no public blob).
 */
export function openSshPublicKey(privateKey: string): string | undefined {
  const start = privateKey.indexOf(BEGIN);
  const end = privateKey.indexOf(END);
  if (start < 0 || end < start) return undefined;
  const body = Buffer.from(privateKey.slice(start + BEGIN.length, end).replace(/\s+/g, ""), "base64");
  if (body.subarray(0, MAGIC.length).toString("latin1") !== MAGIC) return undefined;

  let offset = MAGIC.length;
  const readString = (): Buffer | undefined => {
    if (offset + 4 > body.length) return undefined;
    const len = body.readUInt32BE(offset);
    if (offset + 4 + len > body.length) return undefined;
    const value = body.subarray(offset + 4, offset + 4 + len);
    offset += 4 + len;
    return value;
  };
  // ciphername, kdfname, kdfoptions, then the key count (one key per file in practice).
  for (let i = 0; i < 3; i++) if (readString() === undefined) return undefined;
  if (offset + 4 > body.length || body.readUInt32BE(offset) !== 1) return undefined;
  offset += 4;
  const blob = readString();
  if (blob === undefined || blob.length < 4) return undefined;
  const typeLen = blob.readUInt32BE(0);
  if (4 + typeLen > blob.length) return undefined;
  const type = blob.subarray(4, 4 + typeLen).toString("latin1");
  return `${type} ${blob.toString("base64")}`;
}
