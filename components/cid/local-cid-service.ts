/**
 * `LocalCidService`: the dev stack's CID object service as a Pulumi dynamic resource (a local
 * process with its own pid, health, restart on change, stop by pid). The provider is the shared
 * small-closure loader (see components/local/local-server.ts for why).
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { dynamicProvider, providerExports } from "../provider/provider-loader";

export const localCidServiceProvider: pulumi.dynamic.ResourceProvider = dynamicProvider(path.join(__dirname, `local-cid-service-crud${path.extname(__filename)}`), providerExports("LocalCidServiceProvider"));

export type LocalCidServiceArgs = {
  /** Absolute folder `.cim-dev/<stack>/cid-service`. Changing it replaces the service. */
  readonly dataDir: pulumi.Input<string>;
  /** Client URLs of the leaf it serves at (cimstor). */
  readonly servers: pulumi.Input<pulumi.Input<string>[]>;
  /** Its user's `.creds` (kept secret). */
  readonly creds: pulumi.Input<string>;
  /** Object bucket. */
  readonly bucket: pulumi.Input<string>;
  /** Subject prefix (`cimstor.objects`). */
  readonly subjectPrefix: pulumi.Input<string>;
  /** Its user's inbox prefix. */
  readonly inboxPrefix: pulumi.Input<string>;
  /** `host:port` of its HTTP /healthz. */
  readonly healthAddr: pulumi.Input<string>;
  /** Unfinished uploads held at once (bytes); default the service's (256 MiB). */
  readonly maxPendingBytes?: pulumi.Input<number>;
  /** The stack's CA certificate (PEM, public) when the servers require TLS. */
  readonly caPem?: pulumi.Input<string>;
};

export class LocalCidService extends pulumi.dynamic.Resource {
  declare public readonly pid: pulumi.Output<number>;
  declare public readonly running: pulumi.Output<boolean>;
  declare public readonly logPath: pulumi.Output<string>;
  declare public readonly healthAddr: pulumi.Output<string>;

  constructor(name: string, args: LocalCidServiceArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      localCidServiceProvider,
      name,
      { ...args, creds: pulumi.secret(args.creds), pid: undefined, running: undefined, logPath: undefined, credsHash: undefined, codeHash: undefined },
      { ...opts, additionalSecretOutputs: ["creds", ...(opts?.additionalSecretOutputs ?? [])] },
      "cim-nats",
      "LocalCidService",
    );
  }
}
