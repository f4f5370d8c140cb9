/** `cim-nats:tls` bad input: each issue names the field, the value and the fix (schema + parseTls's cross-field rules). */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../components/config/errors";
import { parseTls } from "../../components/tls/parse";

const CERT = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";

function issuesOf(raw: unknown, caKey?: string): { propertyPath: string; reason: string }[] {
  try {
    parseTls(raw, caKey);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return [...(e as ConfigError).issues];
  }
  throw new Error("expected a ConfigError");
}

describe("parseTls", () => {
  it("defaults to a generated CA with the default lifetimes", () => {
    expect(parseTls(undefined)).toEqual({ mode: "generated", caDays: 3650, serverDays: 365, renewBeforeDays: 30 });
    expect(parseTls({ serverDays: 90, renewBeforeDays: 10 })).toMatchObject({ mode: "generated", serverDays: 90, renewBeforeDays: 10 });
    expect(parseTls({ mode: "provided", caCert: CERT }, KEY)).toMatchObject({ mode: "provided", caCertPem: CERT, caKeyPem: KEY });
  });

  it.each([
    ["a mode that is none", { mode: "of" }, undefined, "tls.mode", /"of" is not a TLS mode: use generated .* provided .* or off/],
    ["not an object", "generated", undefined, "tls", /"generated" is not an object: write \{ mode: generated \}/],
    ["a field of another mode", { mode: "off", caDays: 3 }, undefined, "tls.caDays", /unknown field 'caDays': allowed are mode/],
    ["a typo", { serverdays: 3 }, undefined, "tls.serverdays", /unknown field 'serverdays' \(did you mean 'serverDays'\?\)/],
    ["fractional days", { caDays: 1.5 }, undefined, "tls.caDays", /1.5 must be a whole number of days in \[2, 36500\]/],
    ["renewal longer than the certificate", { serverDays: 10, renewBeforeDays: 20 }, undefined, "tls.renewBeforeDays", /20 must be below tls.serverDays \(10\)/],
    ["provided without a certificate", { mode: "provided" }, KEY, "tls.caCert", /needs the CA certificate as PEM.*pulumi config set --path cim-nats:tls.caCert/],
    ["provided with a bad certificate", { mode: "provided", caCert: "-----BEGIN CERTIFICATE-----\n!!" }, KEY, "tls.caCert", /needs the CA certificate as PEM/],
    ["provided without a key", { mode: "provided", caCert: CERT }, undefined, "tlsCaKey", /PKCS#8 PEM.*pulumi config set --secret cim-nats:tlsCaKey/],
    ["a key with mode off", { mode: "off" }, KEY, "tlsCaKey", /tls.mode is off: remove it/],
    ["a key with mode generated", undefined, KEY, "tlsCaKey", /tls.mode is generated .*remove it, or use mode provided/],
  ] as const)("%s", (_, raw, key, path, reason) => {
    const issues = issuesOf(raw, key);
    const hit = issues.find((i) => i.propertyPath === path);
    expect(hit, JSON.stringify(issues)).toBeDefined();
    expect(hit!.reason).toMatch(reason);
  });
});
