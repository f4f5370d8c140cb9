/**
 * Everything one host's deployment consists of, as data: the staged files, the content trigger
 * and the two scripts. Pure; the NixosDeployment component hands this to @pulumi/command.
 */
import { Host } from "../topology/types";
import { contentTrigger, ContentTrigger, RenderedFile, StagedFile, stagedFiles } from "./files";
import { DeployOptions, stageDirCommand, switchScript } from "./scripts";

export type HostDeployment = {
  readonly host: string;
  /** Address the deploy connects to over SSH. */
  readonly address: string;
  /** Files sorted by path, with their staging names. */
  readonly files: readonly StagedFile[];
  /** Re-run the switch exactly when this changes. */
  readonly trigger: ContentTrigger;
  /** Creates the private staging dir. */
  readonly stageCommand: string;
  /** Installs the files, switches NixOS, waits for /healthz (run with `bash -s`). */
  readonly switchScript: string;
};

/** The deployment of one host from its rendered files. Throws ConfigError for invalid files. */
export function hostDeployment(host: Host, files: readonly RenderedFile[], options: DeployOptions): HostDeployment {
  const staged = stagedFiles(host.name, files);
  return {
    host: host.name,
    address: host.address,
    files: staged,
    trigger: contentTrigger(files),
    stageCommand: stageDirCommand(options),
    switchScript: switchScript(host.name, staged, host.instances, options),
  };
}
