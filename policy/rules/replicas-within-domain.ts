/**
 * `replicas-within-domain`: a stream, KV bucket, object bucket or consumer asks for no more
 * replicas than its JetStream domain has servers (the hub's members; one server per leaf).
 * The resource's own `target.servers` lists every server of its domain (jetstream/locations.ts).
 * A target is unknown at a preview before the stack's keys exist (it carries creds): then the
 * bound is the largest domain of `cim-nats:topology`, which no resource may exceed anywhere.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import type { PolicyContext } from "../context";
import { TYPES } from "../resource-types";
import { isUnknownValueError, what } from "./props";

const REPLICA_KEY: Readonly<Record<string, string>> = {
  [TYPES.stream]: "num_replicas",
  [TYPES.consumer]: "num_replicas",
  [TYPES.kv]: "replicas",
  [TYPES.objectStore]: "replicas",
};

const plural = (n: number) => `${n} server${n === 1 ? "" : "s"}`;

export function replicasWithinDomain(ctx: PolicyContext): ResourceValidationPolicy {
  return {
    name: "replicas-within-domain",
    description: "JetStream replicas never exceed the servers of the domain (hub members, or 1 at a leaf).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      const key = REPLICA_KEY[args.type];
      if (!key) return;
      const replicas = args.props[key];
      if (typeof replicas !== "number" || replicas <= 1) return;
      let domain: { name: string; servers: number } | undefined;
      try {
        const target = args.props.target as { servers?: unknown[]; domain?: string };
        domain = { name: `JetStream domain '${target.domain ?? ""}'`, servers: Array.isArray(target.servers) ? target.servers.length : 0 };
      } catch (e) {
        if (!isUnknownValueError(e)) throw e;
        domain = { name: "the largest JetStream domain of cim-nats:topology (its hub)", servers: ctx.largestDomain() };
      }
      if (replicas <= domain.servers) return;
      report(
        `${what(args)} asks for ${replicas} replicas but ${domain.name} has ${plural(domain.servers)}: the server cannot place it. ` +
          `Fix: replicas: ${Math.max(domain.servers, 1)} or fewer in cim-nats:jetstream, or add hosts with the hub role.`,
      );
    },
  };
}
