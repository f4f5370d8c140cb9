/**
 * `LocalFiles`: a folder of private files (0600) managed by the stack — in the dev stack the
 * client creds and `nats` contexts under `.cim-dev/<stack>/clients/`. Same small-closure
 * provider as LocalNatsServer (see local-server.ts).
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { dynamicProvider } from "../jetstream/provider-loader";

export const localFilesProvider: pulumi.dynamic.ResourceProvider = dynamicProvider(path.join(__dirname, `local-files-crud${path.extname(__filename)}`), {
  check: "checkLocalFilesProvider",
  diff: "diffLocalFilesProvider",
  create: "createLocalFilesProvider",
  read: "readLocalFilesProvider",
  update: "updateLocalFilesProvider",
  delete: "deleteLocalFilesProvider",
});

export type LocalFilesArgs = {
  /** Absolute folder, e.g. `<project>/.cim-dev/dev/clients`. Changing it replaces the files. */
  readonly dir: pulumi.Input<string>;
  /** Relative path → content (e.g. `{ "person-service.creds": creds, "contexts/nats-1.json": ctx }`). Kept secret. */
  readonly files: pulumi.Input<Record<string, pulumi.Input<string>>>;
};

/** Private files the stack writes on this machine and removes on destroy. */
export class LocalFiles extends pulumi.dynamic.Resource {
  declare public readonly dir: pulumi.Output<string>;
  /** Relative paths written, sorted. */
  declare public readonly fileNames: pulumi.Output<string[]>;

  constructor(name: string, args: LocalFilesArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      localFilesProvider,
      name,
      { dir: args.dir, files: pulumi.secret(args.files), fileNames: undefined, filesHash: undefined, intact: undefined },
      { ...opts, additionalSecretOutputs: ["files", ...(opts?.additionalSecretOutputs ?? [])] },
      "cim-nats",
      "LocalFiles",
    );
  }
}
