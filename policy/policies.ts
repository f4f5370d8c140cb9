/** Every rule of the pack, given what they may know beyond the resource (context.ts). */
import type { Policies } from "@pulumi/policy";
import type { PolicyContext } from "./context";
import { containerGuard } from "./rules/container-guard";
import { noSharedInboxGrants } from "./rules/no-shared-inbox";
import { replicasWithinDomain } from "./rules/replicas-within-domain";
import { noUnapprovedReplacement } from "./rules/replacement";
import { tlsInProd } from "./rules/tls-in-prod";

export function cimNatsPolicies(ctx: PolicyContext): Policies {
  return [tlsInProd(ctx), containerGuard, noUnapprovedReplacement(ctx), replicasWithinDomain(ctx), noSharedInboxGrants];
}

/** The SDK types a test harness needs, resolved from policy/node_modules (the project root has no @pulumi/policy). */
export type { PolicyResourceOptions, ResourceValidationPolicy } from "@pulumi/policy";
