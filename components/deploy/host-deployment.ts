/**
 * Everything one host's deployment consists of, as data: the staged files, the content trigger
 * and the two scripts. Pure; the NixosDeployment component hands this to @pulumi/command.
 */
import { Host } from "../topology/types";
import { contentTrigger, ContentTrigger, RenderedFile, StagedFile, stagedFiles } from "./files";
import type { HubRoll } from "./route-roll";
import { DeployOptions, stageDirCommand, switchScript } from "./scripts";

export type HostDeployment = {
  readonly host: string;
  /** Address the deploy connects to over SSH. */
  readonly address: string;
  /** Files sorted by path, with their staging names. */
  readonly files: readonly StagedFile[];
  /** Changes exactly when a file does; written into the switch script, so the switch re-runs (as an update) exactly then. */
  readonly trigger: ContentTrigger;
  /** Creates the private staging dir. */
  readonly stageCommand: string;
  /** Installs the files, switches NixOS, waits for /healthz (run with `bash -s`); carries the trigger's hashes. */
  readonly switchScript: string;
};

/**
 * The deployment of one host from its rendered files; `roll` for a hub host whose route transport
 * the switch tracks (route-roll.ts). Throws ConfigError for invalid files.
 */
export function hostDeployment(host: Host, files: readonly RenderedFile[], options: DeployOptions, roll?: HubRoll): HostDeployment {
  const staged = stagedFiles(host.name, files);
  const trigger = contentTrigger(files);
  return {
    host: host.name,
    address: host.address,
    files: staged,
    trigger,
    stageCommand: stageDirCommand(options),
    switchScript: switchScript(host.name, staged, host.instances, options, trigger, roll),
  };
}
