/**
 * `cim-nats:tls` (+ the secret `cim-nats:tlsCaKey`) → TlsSpec, every problem as a ConfigIssue
 * naming the field, the value and the fix. The mode's fields are the declared schema's
 * (schema.ts); here: the mode default, renewal vs lifetime, and the secret key. Pure.
 */
import { ConfigError, type ConfigIssue } from "../config/errors";
import { tlsSchema } from "./schema";
import { checkSection } from "../config/validate";
import { DEFAULT_TLS_VALIDITY, type TlsSpec } from "./types";

const PEM_KEY = /^-----BEGIN PRIVATE KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PRIVATE KEY-----\s*$/;

/** The TLS section; `caKey` is the secret `cim-nats:tlsCaKey` (mode provided only). */
export function parseTls(raw: unknown, caKey?: string): TlsSpec {
  if (raw === undefined || raw === null) raw = {};
  const withMode = typeof raw === "object" && !Array.isArray(raw) ? { mode: "generated", ...raw } : raw;
  const { value: t, issues: found } = checkSection(tlsSchema, withMode, "tls");
  const issues: ConfigIssue[] = [...found];
  const at = (path: string, reason: string) => issues.push({ propertyPath: path, reason });
  if (!t?.mode) throw new ConfigError(issues);
  if (t.mode !== "provided" && caKey !== undefined) {
    at("tlsCaKey", t.mode === "off" ? "a CA key is set but tls.mode is off: remove it (`pulumi config rm cim-nats:tlsCaKey`) or use mode provided" : "a CA key is set but tls.mode is generated (the stack's own CA): remove it, or use mode provided");
  }
  if (t.mode === "off") {
    if (issues.length > 0) throw new ConfigError(issues);
    return { mode: "off" };
  }
  const validity = { ...DEFAULT_TLS_VALIDITY, ...t };
  if (validity.renewBeforeDays >= validity.serverDays) {
    at("tls.renewBeforeDays", `${validity.renewBeforeDays} must be below tls.serverDays (${validity.serverDays}), or every up would re-issue every certificate`);
  }
  const days = { caDays: validity.caDays, serverDays: validity.serverDays, renewBeforeDays: validity.renewBeforeDays };
  if (t.mode === "generated") {
    if (issues.length > 0) throw new ConfigError(issues);
    return { mode: "generated", ...days };
  }
  if (caKey === undefined || !PEM_KEY.test(caKey.trim() + "\n")) {
    at(
      "tlsCaKey",
      `mode provided needs the CA's private key as PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)${caKey === undefined ? "" : ", not another format"}: ` +
        "`pulumi config set --secret cim-nats:tlsCaKey < ca-key.pem` (convert with `openssl pkcs8 -topk8 -nocrypt`)",
    );
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return { mode: "provided", caCertPem: String("caCert" in t ? t.caCert : "").trim() + "\n", caKeyPem: caKey!.trim() + "\n", ...days };
}
