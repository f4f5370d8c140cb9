/**
 * The shell a deployment runs on a container, as strings. Pure. Two scripts: `stageDirCommand`
 * makes the private staging dir the copies land in; `switchScript` installs the staged files
 * with their modes, runs `nixos-rebuild switch` and waits until every server on the host answers
 * `/healthz`. Nothing secret is ever in a script: files are referenced by path only.
 */
import { ServerInstance } from "../topology/types";
import { ContentTrigger, StagedFile } from "./files";
import { NIXPKGS_GC_ROOT } from "./nixos-system";
import { type HubRoll, routeRollCheck, routeRollRecord } from "./route-roll";
import { shellQuote } from "./shell";

export { shellQuote };

/** Deployment settings shared by every host. */
export type DeployOptions = {
  /**
   * Directory on the target the files are copied into before `install` places them with their
   * modes. Private (0700) because the copy itself cannot set a mode. Default "/var/lib/cim-nats/.deploy".
   */
  readonly stagingDir: string;
  /** What applies the configuration. Default "nixos-rebuild switch". */
  readonly rebuildCommand: string;
  /** Seconds to wait for each server on the host to answer /healthz after the switch. Default 300. */
  readonly healthTimeoutSeconds: number;
  /**
   * Path on the target of the nixpkgs pin (nixos-system.ts `nixpkgsPinFile`). Set: the switch
   * fetches it first (Nix checks its sha256), keeps it as a GC root at `nixpkgsGcRoot` and
   * rebuilds with `-I nixpkgs=<its store path>`. Unset: the rebuild uses the host's NIX_PATH.
   */
  readonly nixpkgsPin?: string;
  /** GC root of the fetched pin. Default NIXPKGS_GC_ROOT (/nix/var/nix/gcroots/cim-nats/nixpkgs). */
  readonly nixpkgsGcRoot: string;
  /**
   * nats-server version every server on the host must report (`/varz`) once healthy; another
   * fails the switch. Default NATS_SERVER_VERSION, the pinned build (nix/modules/nats-server.nix).
   */
  readonly natsServerVersion?: string;
};

/** The nats-server version cim-nats is tested with: setup builds it, nix/modules/nats-server.nix pins it. */
export const NATS_SERVER_VERSION = "2.15.2";

export const DEFAULT_DEPLOY_OPTIONS: DeployOptions = {
  stagingDir: "/var/lib/cim-nats/.deploy",
  rebuildCommand: "nixos-rebuild switch",
  healthTimeoutSeconds: 300,
  nixpkgsGcRoot: NIXPKGS_GC_ROOT,
  natsServerVersion: NATS_SERVER_VERSION,
};

/** Creates the staging dir, private to root. */
export function stageDirCommand(options: DeployOptions): string {
  return `install -d -m 0700 ${shellQuote(options.stagingDir)}`;
}

/** Where a file is copied to before the switch installs it. */
export function stagedPath(file: StagedFile, options: DeployOptions): string {
  return `${options.stagingDir}/${file.stagingName}`;
}

function parentDir(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}

/**
 * How the switch command is run: `create` on a host's first deploy, `update` on every later one.
 * The provider runs `update` when any input changes without forcing a replacement; the script
 * (stdin) carries the host's content hashes, so a changed file changes the script and takes
 * that path. (`triggers` would not: @pulumi/command marks it replaceOnChanges, and a replaced
 * command runs `create`.)
 */
export const SWITCH_CREATE = "bash -s -- create";
export const SWITCH_UPDATE = "bash -s -- update";

/**
 * The switch script of one host (stdin of `bash -s -- create|update`). Wrapped in a function so
 * bash parses it whole before running: nothing it starts can swallow the rest from stdin.
 *
 * Which health check depends on the run. A host's first deploy waits for
 * `/healthz?js-server-only=true` (server up, JetStream on): a lone new hub member cannot pass the
 * full check before its peers exist, and the members are created one after another. Every later
 * run (a rolling rebuild) waits for the full `/healthz`: the member is current with the meta
 * leader and its streams, so the next member may restart without losing quorum. Except across a
 * route transport change (`roll`, route-roll.ts): a hub member whose peers still route the old way
 * waits for its own server only, and the chain's last hub host for the whole cluster.
 */
export function switchScript(
  host: string,
  files: readonly StagedFile[],
  instances: readonly Pick<ServerInstance, "serverName" | "monitoringAddress" | "monitoringPort">[],
  options: DeployOptions,
  content: ContentTrigger,
  roll?: HubRoll,
): string {
  const secretDirs = [...new Set(files.filter((f) => f.secret).map((f) => parentDir(f.path)))].sort();
  const lines = [
    `# cim-nats: deploy host ${host}: install its rendered files, switch NixOS, wait for /healthz.`,
    // The content identity: a changed file changes these lines, so the preview names the file
    // and the provider runs this script's update path. Hashes of secrets reveal nothing (files.ts).
    `# content ${content.contentHash}`,
    ...Object.keys(content.fileHashes)
      .sort()
      .map((path) => `#   ${content.fileHashes[path]} ${path}`),
    `case "\${1:-update}" in create) HEALTHZ='/healthz?js-server-only=true' ;; *) HEALTHZ='/healthz' ;; esac`,
    // bash's /dev/tcp, not curl: a minimal NixOS has no curl. stderr first, so a refused connect is quiet.
    "healthz() { # address port path: true when the server answers 200",
    "  local status=''",
    `  { printf 'GET %s HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n' "$3" "$1" >&3; IFS= read -r -t 5 status <&3; } 2>/dev/null 3<>"/dev/tcp/$1/$2" || return 1`,
    `  [[ $status == "HTTP/1."?" 200"* ]]`,
    "}",
    "wait_healthy() { # server address port [path, default $HEALTHZ]",
    '  local path=${4:-$HEALTHZ}',
    // bash's SECONDS ticks in whole seconds: +1 so the wait is never shorter than the timeout.
    `  local deadline=$((SECONDS + ${options.healthTimeoutSeconds} + 1))`,
    `  until healthz "$2" "$3" "$path"; do`,
    `    if ((SECONDS >= deadline)); then echo "cim-nats: $1 did not answer http://$2:$3$path within ${options.healthTimeoutSeconds}s" >&2; return 1; fi`,
    "    sleep 1",
    "  done",
    `  echo "cim-nats: $1 healthy (http://$2:$3$path)"`,
    "}",
    ...(options.natsServerVersion !== undefined ? versionCheck(options.natsServerVersion) : []),
    ...(options.nixpkgsPin !== undefined ? nixpkgsFetch(options.nixpkgsPin, options.nixpkgsGcRoot) : []),
    "deploy() {",
    "  set -euo pipefail",
    // Read before anything is installed: the transport this host last deployed healthily.
    ...(roll !== undefined ? routeRollCheck(host, roll) : []),
    // Secret dirs are private before a secret lands in them; install -D would make them 0755.
    ...secretDirs.map((d) => `  install -d -m 0700 ${shellQuote(d)}`),
    ...files.map((f) => `  install -D -m ${f.mode} ${shellQuote(stagedPath(f, options))} ${shellQuote(f.path)}`),
    ...(options.nixpkgsPin !== undefined ? ["  fetch_nixpkgs", `  ${options.rebuildCommand} -I "nixpkgs=$NIXPKGS"`] : [`  ${options.rebuildCommand}`]),
    // Runs on the host, so a loopback-only monitoring address answers.
    ...instances.map(
      (i) => `  wait_healthy ${shellQuote(i.serverName)} ${shellQuote(i.monitoringAddress)} ${i.monitoringPort}${roll?.hubServer === i.serverName ? ' "$hub_healthz"' : ""}`,
    ),
    ...(options.natsServerVersion !== undefined
      ? instances.map((i) => `  check_version ${shellQuote(i.serverName)} ${shellQuote(i.monitoringAddress)} ${i.monitoringPort}`)
      : []),
    ...(roll !== undefined ? routeRollRecord(roll) : []),
    `  echo "cim-nats: ${host} deployed"`,
    "}",
    "deploy </dev/null",
    "",
  ];
  return lines.join("\n");
}

/**
 * `fetch_nixpkgs`: evaluates the pin (builtins.fetchTarball with its sha256: Nix downloads once,
 * then reuses the store path; any other content fails with "hash mismatch") into $NIXPKGS and
 * records it as a GC root, so `nix.gc` keeps it and NIX_PATH (system.nix) finds it.
 */
function nixpkgsFetch(pin: string, gcRoot: string): string[] {
  return [
    "fetch_nixpkgs() { # sets NIXPKGS to the pinned nixpkgs' store path",
    `  if ! NIXPKGS=$(nix-instantiate --eval --read-write-mode --json ${shellQuote(pin)}); then`,
    `    echo "cim-nats: cannot fetch the pinned nixpkgs (${pin}; cim-nats:proxmox.nixos.nixpkgs); nothing was rebuilt" >&2`,
    "    return 1",
    "  fi",
    '  NIXPKGS=${NIXPKGS//\\"/}',
    `  install -d -m 0755 ${shellQuote(parentDir(gcRoot))}`,
    `  ln -sfn "$NIXPKGS" ${shellQuote(gcRoot)}`,
    '  echo "cim-nats: nixpkgs $NIXPKGS"',
    "}",
  ];
}

/**
 * `check_version`: the version the running server reports on /varz (what runs, not what a
 * binary on PATH would say) must be the pinned one; a unit left on another build fails the switch.
 */
function versionCheck(version: string): string[] {
  return [
    "check_version() { # server address port",
    "  local line body=''",
    `  { printf 'GET /varz HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n' "$2" >&3; while IFS= read -r -t 5 line; do body+="$line"; done <&3; } 2>/dev/null 3<>"/dev/tcp/$2/$3" || true`,
    `  local re='"version": *"([^"]*)"'`,
    '  if [[ $body =~ $re ]] && [[ ${BASH_REMATCH[1]} == ' + shellQuote(version) + " ]]; then",
    `    echo "cim-nats: $1 runs nats-server ${version}"`,
    "    return 0",
    "  fi",
    `  echo "cim-nats: $1 runs nats-server \${BASH_REMATCH[1]:-of unknown version (no /varz at http://$2:$3)}, not the pinned ${version} (services.cim-nats.package, nix/modules/nats-server.nix)" >&2`,
    "  return 1",
    "}",
  ];
}
