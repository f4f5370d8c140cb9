/**
 * X.509 for the stack's TLS: a private CA and server certificates issued from it, as PEM text.
 * Data in, data out (no files, no processes): callable from the dynamic providers and tests.
 *
 * Why @peculiar/x509: it builds and signs certificates on Node's own WebCrypto (ECDSA P-256
 * here), is maintained, has no native dependencies and needs no `openssl` binary — a shell-out
 * would put keys on command lines or temp files and tie the stack to whatever openssl the
 * machine has. It wants a Reflect metadata polyfill (tsyringe), hence `reflect-metadata`.
 */
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 24 * 3600 * 1000;

type KeyPair = webcrypto.CryptoKeyPair;
type Key = webcrypto.CryptoKey;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** A certificate and its private key, PEM (the key PKCS#8, secret). */
export type IssuedCert = {
  readonly certPem: string;
  readonly keyPem: string;
  /** ISO time the certificate ends. */
  readonly notAfter: string;
};

/** What a server certificate names: its IP addresses and DNS names (SANs). */
export type CertNames = {
  readonly commonName: string;
  readonly ips: readonly string[];
  readonly dnsNames: readonly string[];
};

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join("\n")}\n-----END ${label}-----\n`;
}

function pemBody(text: string): ArrayBuffer {
  const b64 = text.replace(/-----(BEGIN|END) [A-Z ]+-----/g, "").replace(/\s+/g, "");
  const buf = Buffer.from(b64, "base64");
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
}

/** A random positive serial (16 bytes, hex), as RFC 5280 asks of a CA. */
function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f;
  bytes[0] |= 0x01;
  return Buffer.from(bytes).toString("hex");
}

async function newKeys(): Promise<KeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as KeyPair;
}

async function keyPem(key: Key): Promise<string> {
  return pem("PRIVATE KEY", await webcrypto.subtle.exportKey("pkcs8", key));
}

/** A self-signed CA (path length 0: it signs server certificates only). */
export async function issueCa(args: { readonly commonName: string; readonly days: number; readonly now?: Date }): Promise<IssuedCert> {
  const now = args.now ?? new Date();
  const keys = await newKeys();
  // A minute back: a freshly issued certificate must not be "not yet valid" on a clock a little behind.
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(now.getTime() + args.days * DAY_MS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: [{ CN: [args.commonName] }, { O: ["cim-nats"] }],
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString("pem") + "\n", keyPem: await keyPem(keys.privateKey), notAfter: notAfter.toISOString() };
}

/**
 * A server certificate signed by the CA, with server AND client EKU: a hub member presents it
 * when it accepts a route and when it dials one; a leaf presents it on its leafnode link.
 */
export async function issueServerCert(args: {
  readonly caCertPem: string;
  readonly caKeyPem: string;
  readonly names: CertNames;
  readonly days: number;
  readonly now?: Date;
}): Promise<IssuedCert> {
  const now = args.now ?? new Date();
  const ca = new x509.X509Certificate(args.caCertPem);
  const caKey = await webcrypto.subtle.importKey("pkcs8", pemBody(args.caKeyPem), ALG, false, ["sign"]);
  const keys = await newKeys();
  const notBefore = new Date(now.getTime() - 60_000);
  // Never past the CA's own end: a chain with a longer-lived leaf fails verification then.
  const notAfter = new Date(Math.min(now.getTime() + args.days * DAY_MS, ca.notAfter.getTime()));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: [{ CN: [args.names.commonName] }, { O: ["cim-nats"] }],
    issuer: ca.subject,
    notBefore,
    notAfter,
    signingKey: caKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...args.names.ips.map((ip) => ({ type: "ip" as const, value: ip })),
        ...args.names.dnsNames.map((dns) => ({ type: "dns" as const, value: dns })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });
  return { certPem: cert.toString("pem") + "\n", keyPem: await keyPem(keys.privateKey), notAfter: notAfter.toISOString() };
}

/** What a certificate says, for diffs and checks. */
export type CertInfo = {
  readonly subject: string;
  readonly issuer: string;
  readonly notAfter: string;
  readonly ips: readonly string[];
  readonly dnsNames: readonly string[];
};

export function certInfo(certPem: string): CertInfo {
  const cert = new x509.X509Certificate(certPem);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const items = san?.names.items ?? [];
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    notAfter: cert.notAfter.toISOString(),
    ips: items.filter((n) => n.type === "ip").map((n) => n.value),
    dnsNames: items.filter((n) => n.type === "dns").map((n) => n.value),
  };
}

/** Whether the certificate ends within `days` of `now` (so `up` re-issues it). */
export function expiresWithin(notAfter: string, days: number, now: Date = new Date()): boolean {
  return new Date(notAfter).getTime() - now.getTime() < days * DAY_MS;
}
