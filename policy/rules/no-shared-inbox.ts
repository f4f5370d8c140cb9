/**
 * `no-shared-inbox-grants`: no user JWT allows publishing or subscribing in the shared `_INBOX`
 * namespace every client replies on by default (DESIGN: services get `_INBOX_<user>.>`, never
 * `_INBOX.>`): subscribe there reads every service's replies, publish there forges them.
 * Reads the claims the user's IssuedJwt will sign (components/security/claims.ts): `pub.allow`, `sub.allow`.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { TYPES } from "../resource-types";
import { what } from "./props";

/** Whether an allowed subject reaches into the shared `_INBOX.` namespace. */
export function grantsSharedInbox(subject: string): boolean {
  const tokens = subject.split(".");
  if (tokens[0] === "_INBOX" || tokens[0] === ">") return true;
  // All wildcards (`*.>`, `*.*`) match inbox replies too; `*.events.>` only reaches `_INBOX.events.…`, no reply subject.
  return tokens[0] === "*" && tokens.length > 1 && tokens.slice(1).every((t) => t === "*" || t === ">");
}

type Permission = { allow?: string[] };

export const noSharedInboxGrants: ResourceValidationPolicy = {
  name: "no-shared-inbox-grants",
  description: "No user may publish or subscribe under the shared _INBOX (services use their own _INBOX_<user> prefix).",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== TYPES.issuedJwt || args.props.kind !== "user") return;
    const nats = args.props.claims as { pub?: Permission; sub?: Permission };
    const user = String(args.props.name);
    for (const [op, verb] of [["pub", "publish"], ["sub", "subscribe"]] as const) {
      for (const subject of nats[op]?.allow ?? []) {
        if (!grantsSharedInbox(subject)) continue;
        report(
          `user '${user}' (${what(args)}) is allowed to ${verb} '${subject}', inside the shared _INBOX every client replies on: it could ${op === "sub" ? "read every service's replies" : "forge replies to any request"}. ` +
            `Fix: remove it from cim-nats:security users[name=${user}].${verb}.allow; for request/reply use requestReply: true (its own _INBOX_${user} prefix).`,
        );
      }
    }
  },
};
