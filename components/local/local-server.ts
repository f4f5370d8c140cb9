/**
 * `LocalNatsServer`: one nats-server process of the dev stack as a Pulumi dynamic resource.
 *
 * Pulumi serializes a dynamic provider as a closure and runs it in its own process
 * (pulumi-resource-pulumi-nodejs); whatever the methods capture is serialized with them, which
 * breaks on module objects (pulumi/pulumi#10480) and silently empties a captured Set or Map.
 * So the provider is the shared small-closure loader: each method captures only the path of
 * local-server-provider.ts and loads it at call time (tsx's hook), the same code tests call.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { dynamicProvider, providerExports } from "../provider/provider-loader";

export const localServerProvider: pulumi.dynamic.ResourceProvider = dynamicProvider(path.join(__dirname, `local-server-provider${path.extname(__filename)}`), providerExports("LocalServerProvider"));

/** Inputs of a LocalNatsServer. */
export type LocalNatsServerArgs = {
  /** `server_name`; the last segment of `dataDir`. Changing it replaces the server. */
  readonly serverName: pulumi.Input<string>;
  /**
   * Rendered nats-server config (may be secret). A change nats-server can reload is applied by
   * SIGHUP (same pid); a restart-only change restarts the server in place (reload-rules.ts).
   */
  readonly configText: pulumi.Input<string>;
  /** Absolute folder `.cim-dev/<stack>/<serverName>` for config, log, creds and store. Changing it replaces the server. */
  readonly dataDir: pulumi.Input<string>;
  /** `http://<address>:<monitoring port>`, polled for /healthz. */
  readonly monitoringUrl: pulumi.Input<string>;
  /** nats-server binary. Default: the pinned `.tools/bin/nats-server`. */
  readonly binary?: pulumi.Input<string>;
  /** Extra files (relative path → content, e.g. leaf-link creds), written 0600. Default none. Kept secret. */
  readonly files?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Seconds create/update wait for /healthz. Default 60. */
  readonly healthTimeoutSeconds?: pulumi.Input<number>;
  /**
   * What create waits for: "full" /healthz (default) or "js-server-only" (a hub member created
   * before a quorum of its peers runs). Updates always wait for full health and JetStream-current.
   */
  readonly createHealthCheck?: pulumi.Input<"full" | "js-server-only">;
  /** Seconds a lame duck stop (SIGUSR2) may take before SIGKILL; above `lame_duck_duration`. Default 40. */
  readonly stopTimeoutSeconds?: pulumi.Input<number>;
  /**
   * Creds of the JetStream admin user: a hub member's restart first moves its stream and consumer
   * leaderships away through the API (no dropped request), then stops with lame duck. Kept secret.
   * Default none (lame duck alone moves them; a few in-flight stream requests may time out).
   */
  readonly leaderHandoffCreds?: pulumi.Input<string>;
  /** Monitoring URLs of the other hub members (a member): a member found dead waits to be JetStream-current when they make a quorum with it. */
  readonly peerMonitoringUrls?: pulumi.Input<readonly string[]>;
  /** Client URLs of the hub (a leaf): after a restart, with `leaderHandoffCreds`, the leaf nudges the hub streams sourcing from it. */
  readonly hubClientUrls?: pulumi.Input<readonly string[]>;
};

/** One local nats-server process, started, restarted and stopped by the stack. */
export class LocalNatsServer extends pulumi.dynamic.Resource {
  // `declare`, not `!`: with target ES2022 a class field is re-initialized to undefined after
  // super() returns, wiping the outputs the CustomResource constructor just set.
  declare public readonly serverName: pulumi.Output<string>;
  declare public readonly dataDir: pulumi.Output<string>;
  declare public readonly monitoringUrl: pulumi.Output<string>;
  declare public readonly configPath: pulumi.Output<string>;
  declare public readonly logPath: pulumi.Output<string>;
  /** Pid of the running process (stop it only through the stack). */
  declare public readonly pid: pulumi.Output<number>;
  /** Whether the process was serving this config when last read. */
  declare public readonly running: pulumi.Output<boolean>;
  declare public readonly configHash: pulumi.Output<string>;
  /**
   * Identity of the JetStream store (random id in `<store_dir>/cim-store-id`); new when the store
   * was wiped or replaced. Streams and buckets on this server take it as an input, so they are
   * declared again on a new store.
   */
  declare public readonly storeId: pulumi.Output<string>;
  /** What the last create/update did and why (e.g. "reloaded: cluster.routes …"). */
  declare public readonly lastChange: pulumi.Output<string>;

  constructor(name: string, args: LocalNatsServerArgs, opts?: pulumi.CustomResourceOptions) {
    const files = args.files === undefined ? undefined : pulumi.secret(args.files);
    const leaderHandoffCreds = args.leaderHandoffCreds === undefined ? undefined : pulumi.secret(args.leaderHandoffCreds);
    super(
      localServerProvider,
      name,
      {
        ...args,
        files,
        leaderHandoffCreds,
        pid: undefined,
        running: undefined,
        configPath: undefined,
        logPath: undefined,
        configHash: undefined,
        filesHash: undefined,
        fileNames: undefined,
        storeId: undefined,
        lastChange: undefined,
      },
      { ...opts, additionalSecretOutputs: ["configText", "files", "leaderHandoffCreds", ...(opts?.additionalSecretOutputs ?? [])] },
      "cim-nats",
      "LocalNatsServer",
    );
  }
}
