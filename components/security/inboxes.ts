/**
 * Service inboxes: the prefix each service receives its replies on, and the rules that keep one
 * service from reading another's replies. Pure: no I/O, no Pulumi.
 */
import { subjectsOverlap } from "../subjects/subject";

/** The shared default inbox prefix of nats.js and natscli: every service would read every reply. */
export const SHARED_INBOX_PREFIX = "_INBOX";
/** A service's own inbox prefix: `_INBOX_person-service`. */
export const serviceInboxPrefix = (user: string): string => `${SHARED_INBOX_PREFIX}_${user}`;

/** Why an inbox prefix is unusable, or "": a literal subject, not the shared `_INBOX`. */
export function inboxPrefixReason(prefix: string): string {
  if (prefix.length === 0 || /[\s*>]/.test(prefix) || prefix.split(".").some((t) => t === "")) {
    return `inbox prefix '${prefix}' must be a literal subject (tokens of letters, digits, '-', '_'; no wildcards)`;
  }
  if (prefix === SHARED_INBOX_PREFIX || prefix.startsWith(`${SHARED_INBOX_PREFIX}.`)) {
    return `inbox prefix '${prefix}' is under the shared '_INBOX' every client uses by default: any service allowed it could read every reply; use '_INBOX_<user>'`;
  }
  return "";
}

/** Whether two users' inboxes (`<prefix>.>`) can share a subject. */
export function inboxesCollide(a: string, b: string): boolean {
  return subjectsOverlap(`${a}.>`, `${b}.>`);
}
