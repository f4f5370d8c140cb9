/**
 * CRUD of the TLS resources (a CA, a server certificate, the route password), as plain functions
 * the dynamic providers load at call time (components/provider/provider-loader.ts) and tests
 * call directly. Nothing lives outside Pulumi's state: keys and the password are secret outputs.
 *
 * Day 2:
 * - a generated CA is never replaced by a diff (lifetime or name edits change nothing); only a
 *   change of mode, or a different operator-provided CA, replaces it;
 * - a server certificate is re-issued in place when what it names (SANs) or its CA changes, or
 *   when it is within `renewBeforeDays` of its end — `diff` checks that, so `preview` shows it;
 * - a revert to the same names plans nothing (the certificate still names them).
 */
import { randomBytes } from "node:crypto";
import { containsUnknown } from "../provider/canonical";
import { expiresWithin, issueCa, issueServerCert, type CertNames } from "./certs";

// ---------------------------------------------------------------- CA

export type TlsCaInputs = {
  readonly mode: "generated" | "provided";
  readonly commonName: string;
  readonly days: number;
  /** mode provided: the operator's CA certificate and key (PEM; the key secret). */
  readonly providedCertPem?: string;
  readonly providedKeyPem?: string;
};
export type TlsCaState = TlsCaInputs & { readonly certPem: string; readonly keyPem: string; readonly notAfter: string };

export async function createTlsCa(inputs: TlsCaInputs): Promise<{ id: string; outs: TlsCaState }> {
  if (inputs.mode === "provided") {
    if (!inputs.providedCertPem || !inputs.providedKeyPem) throw new Error("a provided CA needs its certificate and key (tls.caCert, cim-nats:tlsCaKey)");
    const { certInfo } = await import("./certs");
    const notAfter = certInfo(inputs.providedCertPem).notAfter;
    return { id: `tls-ca:provided:${notAfter}`, outs: { ...inputs, certPem: inputs.providedCertPem, keyPem: inputs.providedKeyPem, notAfter } };
  }
  const ca = await issueCa({ commonName: inputs.commonName, days: inputs.days });
  return { id: `tls-ca:generated:${ca.notAfter}`, outs: { ...inputs, ...ca } };
}

export async function diffTlsCa(_id: string, olds: TlsCaState, news: TlsCaInputs) {
  if (olds.mode !== news.mode) return { changes: true, replaces: ["mode"] };
  if (news.mode === "provided" && !containsUnknown(news.providedCertPem) && news.providedCertPem !== olds.providedCertPem) {
    return { changes: true, replaces: ["providedCertPem"] };
  }
  // A generated CA stays: re-keying every server is an explicit act (`pulumi up --replace <urn>`).
  return { changes: false };
}

export async function updateTlsCa(_id: string, olds: TlsCaState, news: TlsCaInputs): Promise<{ outs: TlsCaState }> {
  // Only reached for inputs diff ignores: keep the CA, record the new inputs.
  return { outs: { ...olds, ...news, certPem: olds.certPem, keyPem: olds.keyPem, notAfter: olds.notAfter } };
}

// ---------------------------------------------------------------- server certificate

export type ServerCertInputs = {
  readonly caCertPem: string;
  readonly caKeyPem: string;
  readonly names: CertNames;
  readonly days: number;
  readonly renewBeforeDays: number;
};
export type ServerCertState = ServerCertInputs & { readonly certPem: string; readonly keyPem: string; readonly notAfter: string };

const sameNames = (a: CertNames, b: CertNames) => JSON.stringify(a) === JSON.stringify(b);

async function issue(inputs: ServerCertInputs): Promise<ServerCertState> {
  const cert = await issueServerCert({ caCertPem: inputs.caCertPem, caKeyPem: inputs.caKeyPem, names: inputs.names, days: inputs.days });
  return { ...inputs, ...cert };
}

export async function createServerCert(inputs: ServerCertInputs): Promise<{ id: string; outs: ServerCertState }> {
  return { id: `server-cert:${inputs.names.commonName}`, outs: await issue(inputs) };
}

/** Why a certificate must be re-issued (empty: it stays). */
export function reissueReasons(olds: ServerCertState, news: ServerCertInputs, now: Date = new Date()): string[] {
  const why: string[] = [];
  if (containsUnknown(news.caCertPem) || news.caCertPem !== olds.caCertPem) why.push("caCertPem");
  if (containsUnknown(news.names) || !sameNames(olds.names, news.names)) why.push("names");
  if (expiresWithin(olds.notAfter, news.renewBeforeDays, now)) why.push("notAfter");
  return why;
}

export async function diffServerCert(_id: string, olds: ServerCertState, news: ServerCertInputs) {
  const why = reissueReasons(olds, news);
  // Lifetime edits alone wait for the next re-issue; a new name, a new CA or a near end re-issues now.
  return { changes: why.length > 0, replaces: [], stables: [] as string[], deleteBeforeReplace: false, ...(why.length > 0 ? { diffs: why } : {}) };
}

export async function updateServerCert(_id: string, olds: ServerCertState, news: ServerCertInputs): Promise<{ outs: ServerCertState }> {
  return { outs: reissueReasons(olds, news).length > 0 ? await issue(news) : { ...olds, ...news, certPem: olds.certPem, keyPem: olds.keyPem, notAfter: olds.notAfter } };
}

// ---------------------------------------------------------------- route password

export type RoutePasswordState = { readonly password: string };

export async function createRoutePassword(): Promise<{ id: string; outs: RoutePasswordState }> {
  // 32 random bytes, base64url: it sits in route URLs unescaped (render/cluster-auth.ts).
  return { id: "route-password", outs: { password: randomBytes(32).toString("base64url") } };
}

export async function diffRoutePassword() {
  return { changes: false };
}

// ---------------------------------------------------------------- shared

export async function checkTls(_olds: unknown, news: Record<string, unknown>) {
  return { inputs: news, failures: [] };
}

export async function readTls(id: string, props: unknown) {
  // Nothing outside Pulumi's state holds these: the state is the truth.
  return { id, props };
}

export async function updateKeep(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
  return { outs: { ...olds, ...news } };
}

export async function deleteTls(): Promise<void> {
  // Forgetting the key is all there is; servers get new material from the next up.
}
