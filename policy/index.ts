/**
 * cim-nats' policy pack: `pulumi preview --policy-pack policy` (docs/prod.md, "PR review").
 * Every rule is mandatory: a violation fails the preview (and stops `up` before the step).
 */
import { PolicyPack } from "@pulumi/policy";
import { cimNatsPolicies } from "./policies";
import { runtimeContext } from "./runtime-context";

new PolicyPack("cim-nats", { enforcementLevel: "mandatory", policies: cimNatsPolicies(runtimeContext()) });
