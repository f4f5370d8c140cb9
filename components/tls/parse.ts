/**
 * `cim-nats:tls` (+ the secret `cim-nats:tlsCaKey`) → TlsSpec, every problem as a ConfigIssue
 * naming the field, the value and the fix. Pure.
 */
import { ConfigError, type ConfigIssue } from "../config/errors";
import { DEFAULT_TLS_VALIDITY, TlsMode, type TlsSpec } from "./types";

const MODES: readonly string[] = Object.values(TlsMode);
const KEYS: Readonly<Record<string, readonly string[]>> = {
  generated: ["mode", "caDays", "serverDays", "renewBeforeDays"],
  provided: ["mode", "caCert", "caDays", "serverDays", "renewBeforeDays"],
  off: ["mode"],
};
const PEM_CERT = /^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*$/;
const PEM_KEY = /^-----BEGIN PRIVATE KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PRIVATE KEY-----\s*$/;

/** The TLS section; `caKey` is the secret `cim-nats:tlsCaKey` (mode provided only). */
export function parseTls(raw: unknown, caKey?: string): TlsSpec {
  const issues: ConfigIssue[] = [];
  const at = (path: string, reason: string) => issues.push({ propertyPath: path, reason });
  if (raw === undefined || raw === null) return { mode: "generated", ...DEFAULT_TLS_VALIDITY };
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError([{ propertyPath: "tls", reason: `${JSON.stringify(raw)} is not an object: write { mode: generated } (or provided, off)` }]);
  }
  const r = raw as Record<string, unknown>;
  const mode = r.mode ?? "generated";
  if (typeof mode !== "string" || !MODES.includes(mode)) {
    throw new ConfigError([{ propertyPath: "tls.mode", reason: `${JSON.stringify(mode)} is not a TLS mode: use generated (the stack's own CA), provided (your CA) or off` }]);
  }
  for (const key of Object.keys(r)) {
    if (!KEYS[mode].includes(key)) at(`tls.${key}`, `unknown field for mode ${mode}; known: ${KEYS[mode].join(", ")}`);
  }
  if (mode === "off") {
    if (caKey !== undefined) at("tlsCaKey", "a CA key is set but tls.mode is off: remove it (`pulumi config rm cim-nats:tlsCaKey`) or use mode provided");
    if (issues.length > 0) throw new ConfigError(issues);
    return { mode: "off" };
  }
  const days = (key: "caDays" | "serverDays" | "renewBeforeDays", min: number, max: number): number => {
    const v = r[key] ?? DEFAULT_TLS_VALIDITY[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      at(`tls.${key}`, `${JSON.stringify(v)} must be a whole number of days in [${min}, ${max}]`);
      return DEFAULT_TLS_VALIDITY[key];
    }
    return v;
  };
  const validity = { caDays: days("caDays", 2, 36500), serverDays: days("serverDays", 2, 3650), renewBeforeDays: days("renewBeforeDays", 1, 3649) };
  if (validity.renewBeforeDays >= validity.serverDays) {
    at("tls.renewBeforeDays", `${validity.renewBeforeDays} must be below tls.serverDays (${validity.serverDays}), or every up would re-issue every certificate`);
  }
  if (mode === "generated") {
    if (caKey !== undefined) at("tlsCaKey", "a CA key is set but tls.mode is generated (the stack's own CA): remove it, or use mode provided");
    if (issues.length > 0) throw new ConfigError(issues);
    return { mode: "generated", ...validity };
  }
  const caCert = r.caCert;
  if (typeof caCert !== "string" || !PEM_CERT.test(caCert.trim() + "\n")) {
    at("tls.caCert", "mode provided needs the CA certificate as PEM (-----BEGIN CERTIFICATE----- …): `pulumi config set --path cim-nats:tls.caCert \"$(cat ca.pem)\"`");
  }
  if (caKey === undefined || !PEM_KEY.test(caKey.trim() + "\n")) {
    at(
      "tlsCaKey",
      `mode provided needs the CA's private key as PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)${caKey === undefined ? "" : ", not another format"}: ` +
        "`pulumi config set --secret cim-nats:tlsCaKey < ca-key.pem` (convert with `openssl pkcs8 -topk8 -nocrypt`)",
    );
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return { mode: "provided", caCertPem: (caCert as string).trim() + "\n", caKeyPem: caKey!.trim() + "\n", ...validity };
}
