/**
 * Everything one host's deployment consists of, as data: the build (the host's public NixOS files
 * plus the hashes of its secrets, built on the deploying machine and copied to the host as a
 * closure), the secrets staged on the host, the servers the switch waits for, and the content
 * trigger. Pure; the NixosDeployment component hands this to @pulumi/command.
 */
import { Host } from "../topology/types";
import { buildScript, type ClosureTarget, contentSha256, secretHashesModule } from "./build-script";
import { contentTrigger, ContentTrigger, RenderedFile, stagedFiles } from "./files";
import { DeployOptions, instanceUnit, stageDirCommand, type SwitchSecret, type SwitchServer } from "./scripts";

export type HostDeployment = {
  readonly host: string;
  /** Address the deploy connects to over SSH. */
  readonly address: string;
  /** What the build machine builds: the host's public files and the secret hashes module, sorted by path. */
  readonly buildFiles: readonly RenderedFile[];
  /** Builds the system and copies its closure to the host (run with `bash -s` on the deploying machine). */
  readonly buildScript: string;
  /** The secret files, with their staging names and hashes: copied to the host, installed by the switch. */
  readonly secrets: readonly SwitchSecret[];
  /** The servers the switch waits for. */
  readonly servers: readonly SwitchServer[];
  /** Changes exactly when a file does (every file, secrets included). */
  readonly trigger: ContentTrigger;
  /** Creates the private staging dir. */
  readonly stageCommand: string;
};

/** Where the closure goes and how the build is named, per host. */
export type HostBuild = Omit<ClosureTarget, "host" | "address"> & {
  /** GC root name of the host's last build on the deploying machine (e.g. `<stack>-<host>`). */
  readonly gcRootName: string;
};

/**
 * The deployment of one host from its rendered files. Throws ConfigError for invalid files, and
 * an Error when the files lack the entry point or the pin the options name.
 */
export function hostDeployment(host: Host, files: readonly RenderedFile[], options: DeployOptions, build: HostBuild): HostDeployment {
  const staged = stagedFiles(host.name, files);
  const content = new Map(files.map((f) => [f.path, f.content]));
  const secrets = staged.filter((f) => f.secret).map((f) => ({ ...f, sha256: contentSha256(content.get(f.path)!) }));
  const buildFiles: RenderedFile[] = [
    ...files.filter((f) => !f.secret),
    { path: options.secretHashesPath, content: secretHashesModule(files), mode: "0644", secret: false },
  ].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  // The module is the deploy's own: a rendered file at its path would be two sources of one file.
  stagedFiles(host.name, buildFiles);
  return {
    host: host.name,
    address: host.address,
    buildFiles,
    buildScript: buildScript(
      buildFiles,
      { nixosConfig: options.nixosConfig, gcRootName: build.gcRootName, ...(options.nixpkgsPin ? { nixpkgsPin: options.nixpkgsPin } : {}), ...(options.builders ? { builders: options.builders } : {}) },
      { host: host.name, address: host.address, user: build.user, port: build.port, pinHostKey: build.pinHostKey },
    ),
    secrets,
    servers: host.instances.map((i) => ({ serverName: i.serverName, unit: instanceUnit(i), monitoringAddress: i.monitoringAddress, monitoringPort: i.monitoringPort })),
    trigger: contentTrigger(files),
    stageCommand: stageDirCommand(options),
  };
}
