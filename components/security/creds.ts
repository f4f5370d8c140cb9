/**
 * Credentials files (`.creds`): a user JWT and its NKey seed in the format nats-server clients,
 * natscli and leafnode `remotes.credentials` read. The text is secret; at the Pulumi edge it only
 * ever exists inside secret Outputs, and on disk only in 0600 files.
 */
import { fmtCreds, fromSeed } from "@nats-io/jwt";

/**
 * An NKey seed: `S` + key type (O operator, A account, U user) + 56 base32 characters, 58 in
 * all. What the seed-leak scans look for in every file written. Not global: build a /g copy
 * (`new RegExp(SEED_PATTERN, "g")`) to find them all.
 */
export const SEED_PATTERN = /\bS[OAU][A-Z2-7]{56}\b/;

/** `.creds` text of a user: its JWT and seed, as `nsc generate creds` writes it. */
export function credsText(userJwt: string, userSeed: string): string {
  const kp = fromSeed(new TextEncoder().encode(userSeed));
  try {
    return new TextDecoder().decode(fmtCreds(userJwt, kp));
  } finally {
    kp.clear();
  }
}

/** File name of a user's credentials: `person-service.creds`. */
export function credsFileName(userName: string): string {
  return `${userName}.creds`;
}
