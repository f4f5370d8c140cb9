/**
 * The `cim-nats:tls` section as declared data: each mode's fields with their types, defaults and
 * documentation (parse.ts runs it; stack/config-schema.ts puts it into the stack schema, the
 * docs and the JSON Schema). Pure.
 */
import { z } from "zod";
import { because, opt, req } from "../config/atoms";
import { DEFAULT_TLS_VALIDITY } from "./types";

const days = (min: number, max: number) => {
  const e = because((v) => `${JSON.stringify(v)} must be a whole number of days in [${min}, ${max}]`);
  return z.number(e).int(e).min(min, e).max(max, e);
};
const tlsDays = {
  caDays: opt(days(2, 36_500), "lifetime of a generated CA, in days (changing it never replaces an existing CA)", { default: DEFAULT_TLS_VALIDITY.caDays }),
  serverDays: opt(days(2, 3650), "lifetime of each server certificate, in days", { default: DEFAULT_TLS_VALIDITY.serverDays }),
  renewBeforeDays: opt(days(1, 3649), "re-issue a server certificate this many days before it ends (`up` does, `preview` shows it)", { default: DEFAULT_TLS_VALIDITY.renewBeforeDays }),
};
const PEM_CERT = /^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*$/;
const caCert = (() => {
  const e = because(() => "mode provided needs the CA certificate as PEM (-----BEGIN CERTIFICATE----- …): `pulumi config set --path cim-nats:tls.caCert \"$(cat ca.pem)\"`");
  return z.string(e).regex(/^-----BEGIN CERTIFICATE-----/, e).refine((s) => PEM_CERT.test(s.trim() + "\n"), e);
})();
export const tlsSchema = z.discriminatedUnion(
  "mode",
  [
    z.strictObject({ mode: z.literal("generated").describe("the stack issues a private CA once (a secret in state) and every server's certificate"), ...tlsDays }),
    z.strictObject({
      mode: z.literal("provided").describe("your CA: the stack issues every server's certificate from it"),
      caCert: req(caCert, "the CA certificate (PEM); its key goes in the secret `cim-nats:tlsCaKey`"),
      ...tlsDays,
    }),
    z.strictObject({ mode: z.literal("off").describe("no TLS on any listener (explicit opt-out; prod policy flags it)") }),
  ],
  { error: (iss) => (iss.code === "invalid_union" ? `${JSON.stringify((iss.input as { mode?: unknown })?.mode)} is not a TLS mode: use generated (the stack's own CA), provided (your CA) or off` : `${JSON.stringify(iss.input)} is not an object: write { mode: generated } (or provided, off)`) },
);

