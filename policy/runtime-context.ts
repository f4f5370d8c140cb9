/**
 * The PolicyContext of a real run: config and stack name from the engine, the previous state
 * from the Pulumi CLI on PATH (the one running the preview; same backend and passphrase env).
 */
import { execFileSync } from "node:child_process";
import * as pulumi from "@pulumi/pulumi";
import { largestDomainOf, stateByUrn, type PolicyContext, type StateResource } from "./context";

export function runtimeContext(): PolicyContext {
  let state: Map<string, StateResource> | undefined;
  return {
    substrate: () => new pulumi.Config("cim-nats").get("substrate") ?? "proxmox",
    largestDomain: () => largestDomainOf(new pulumi.Config("cim-nats").getObject("topology")),
    priorState: () => {
      if (state) return state;
      // Fully qualified, so the CLI needs no project folder; `organization` is the DIY backends' org.
      const org = process.env.PULUMI_NODEJS_ORGANIZATION || "organization";
      const stack = `${org}/${pulumi.getProject()}/${pulumi.getStack()}`;
      // Without --show-secrets: the replace rules read no secret (a store's domain is in its id).
      const out = execFileSync("pulumi", ["--non-interactive", "stack", "export", "-s", stack], { encoding: "utf8", maxBuffer: 512 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] });
      state = stateByUrn(JSON.parse(out));
      return state;
    },
  };
}
