/**
 * The CID service in the stack (Pulumi edge): dev runs it as a LocalCidService beside the local
 * servers; prod gets it from the host's NixOS config (nix/modules/cim-cid-service.nix), so here
 * it is only the stack output. Both from the same spec (spec.ts).
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { LocalCidService } from "./local-cid-service";
import { CID_SERVICE_DIR_NAME } from "./local-cid-service-crud";
import type { CidServiceSpec } from "./spec";

export type DeclareCidServiceArgs = {
  readonly spec: CidServiceSpec;
  /** Every user's `.creds` (the security capability's secret output). */
  /** The CID service user's creds (that user's own Output: another user's change leaves it known at preview). */
  readonly creds: pulumi.Output<string>;
  /** The stack's absolute data dir (`.cim-dev/<stack>`): the service's folder goes beneath. */
  readonly dataDir: string;
  /** The stack's CA certificate when the servers require TLS. Default: plain. */
  readonly caCertPem?: pulumi.Output<string>;
  /** What must exist first: the servers and the bucket. */
  readonly dependsOn: readonly pulumi.Input<pulumi.Resource>[];
};

/** The dev process of the CID service. */
export function declareLocalCidService(parent: pulumi.Resource, args: DeclareCidServiceArgs): LocalCidService {
  const { spec } = args;
  return new LocalCidService(
    "cid-service",
    {
      dataDir: path.join(args.dataDir, CID_SERVICE_DIR_NAME),
      servers: [spec.clientUrl],
      creds: args.creds,
      bucket: spec.bucket,
      subjectPrefix: spec.subjectPrefix,
      inboxPrefix: spec.inboxPrefix,
      healthAddr: `${spec.address}:${spec.healthPort}`,
      maxPendingBytes: spec.maxPendingBytes,
      ...(args.caCertPem ? { caPem: args.caCertPem } : {}),
    },
    { parent, dependsOn: [...args.dependsOn] },
  );
}
