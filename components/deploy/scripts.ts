/**
 * The shell a deployment runs on a container, as strings. Pure. Two scripts: `stageDirCommand`
 * makes the private staging dir the secret copies land in; `switchScript` installs the staged
 * secrets with their modes, activates the system the build copied to the host (build-script.ts),
 * waits until every server on the host is healthy and otherwise activates the previous generation
 * again. Nothing secret is ever in a script: secrets are referenced by path and hash only.
 */
import { ServerInstance } from "../topology/types";
import { SECRET_HASHES_PATH } from "./build-script";
import { StagedFile } from "./files";
import { type HubRoll, routeRollCheck, routeRollRecord } from "./route-roll";
import { shellQuote } from "./shell";

export { shellQuote };

/** Deployment settings shared by every host. */
export type DeployOptions = {
  /**
   * Directory on the target the secret files are copied into before `install` places them with
   * their modes; each staged copy is removed once installed (or when the switch fails). Private
   * (0700) because the copy itself cannot set a mode. Default "/var/lib/cim-nats/.deploy".
   */
  readonly stagingDir: string;
  /**
   * Seconds the new generation has to become healthy (every server's unit active and its
   * /healthz answering 200) before the previous generation is activated again. Default 300.
   */
  readonly healthTimeoutSeconds: number;
  /** Target path of the host's NixOS entry point among its files. Default "/etc/nixos/configuration.nix". */
  readonly nixosConfig: string;
  /**
   * Target path of the nixpkgs pin among a host's files (nixos-system.ts `nixpkgsPinFile`). Set:
   * the build fetches it (Nix checks its sha256) and builds with `-I nixpkgs=<its store path>`.
   * Unset: the build machine's `<nixpkgs>`.
   */
  readonly nixpkgsPin?: string;
  /** Nix `--builders` of a declared build host; unset: the deploying machine builds (build-script.ts). */
  readonly builders?: string;
  /** Where the secret hashes module goes among a host's build files. Default SECRET_HASHES_PATH. */
  readonly secretHashesPath: string;
  /**
   * nats-server version every server on the host must report (`/varz`) once healthy; another
   * counts as unhealthy. Default NATS_SERVER_VERSION, the pinned build (nix/modules/nats-server.nix).
   */
  readonly natsServerVersion?: string;
};

/** The nats-server version cim-nats is tested with: setup builds it, nix/modules/nats-server.nix pins it. */
export const NATS_SERVER_VERSION = "2.15.2";

/**
 * Seconds between two health checks of a switch's wait. A server answers /healthz within a
 * fraction of a second of being ready; a check each second would add up to a second per server and
 * switch (a hub roll waits for every member in turn). A check is one systemctl call and one local
 * HTTP request: cheap at five a second.
 */
export const HEALTH_POLL_SECONDS = 0.2;

/** A NixOS host's system profile: `nix-env -p <it> --set <system>` makes a generation the boot default. */
export const SYSTEM_PROFILE = "/nix/var/nix/profiles/system";

export const DEFAULT_DEPLOY_OPTIONS: DeployOptions = {
  stagingDir: "/var/lib/cim-nats/.deploy",
  healthTimeoutSeconds: 300,
  nixosConfig: "/etc/nixos/configuration.nix",
  secretHashesPath: SECRET_HASHES_PATH,
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
 * (stdin) names the system and the secrets' hashes, so a change takes that path. (`triggers`
 * would not: @pulumi/command marks it replaceOnChanges, and a replaced command runs `create`.)
 */
export const SWITCH_CREATE = "bash -s -- create";
export const SWITCH_UPDATE = "bash -s -- update";

/** A secret file the switch installs, with the SHA-256 (hex) its content must have. */
export type SwitchSecret = StagedFile & { readonly sha256: string };

/** What one host's switch activates. */
export type Activation = {
  /** Store path of the system the build copied to the host (build-script.ts stdout). */
  readonly system: string;
  /** The host's system profile. Default SYSTEM_PROFILE. */
  readonly profile?: string;
};

/** A server of the host the switch waits for: its unit and its monitoring endpoint. */
export type SwitchServer = Pick<ServerInstance, "serverName" | "monitoringAddress" | "monitoringPort"> & {
  /** Its systemd unit (`cim-nats-<instance>`, nix/modules/cim-nats.nix). */
  readonly unit: string;
};

/** The unit nix/modules/cim-nats.nix runs an instance as. */
export function instanceUnit(instance: Pick<ServerInstance, "kind">): string {
  return `cim-nats-${instance.kind}`;
}

/** Where the switch keeps the secret a new one replaces, until the new generation is healthy. */
export const previousSecretPath = (path: string) => `${path}.cim-nats-previous`;

/**
 * The switch script of one host (stdin of `bash -s -- create|update` over SSH): activates the
 * system the build copied there, the way deploy-rs does. Wrapped in a function so bash parses it
 * whole before running: nothing it starts can swallow the rest from stdin.
 *
 * 1. Each staged secret goes to its home with its mode (its hash checked, the staged copy removed
 *    at once; the file it replaces kept aside); a secret whose copy did not run is checked where
 *    it is installed.
 * 2. The system becomes the profile's generation, then `switch-to-configuration switch`.
 * 3. Within the bound, every server's unit is active and its /healthz answers (and it runs the
 *    pinned nats-server). A host's first deploy waits for `/healthz?js-server-only=true` (a lone
 *    new hub member has no meta leader yet); every later run for the full `/healthz`: the member is
 *    current with its cluster before the next one restarts. Across a route transport change
 *    (`roll`, route-roll.ts) a hub member waits for its own server only, the last for the cluster.
 * 4. Not healthy: the secrets kept aside go back, the previous generation is activated again, and
 *    the switch fails naming the host. No staged secret outlives the switch either way.
 */
export function switchScript(
  host: string,
  secrets: readonly SwitchSecret[],
  servers: readonly SwitchServer[],
  options: DeployOptions,
  activation: Activation,
  roll?: HubRoll,
): string {
  const secretDirs = [...new Set(secrets.map((f) => parentDir(f.path)))].sort();
  const t = options.healthTimeoutSeconds;
  const q = shellQuote;
  const each = (line: (s: SwitchSecret) => string) => secrets.map((s) => `  ${line(s)}`);
  const lines = [
    `# cim-nats: activate host ${host}'s NixOS system (built and copied by its build step); roll back unless healthy within ${t}s.`,
    `# system ${activation.system}`,
    // A changed secret changes its line, so the preview names it and the provider runs update.
    ...secrets.map((s) => `# secret sha256:${s.sha256.slice(0, 16)} ${s.path}`),
    `case "\${1:-update}" in create) HEALTHZ='/healthz?js-server-only=true' ;; *) HEALTHZ='/healthz' ;; esac`,
    `SYSTEM=${q(activation.system)}`,
    `PROFILE=${q(activation.profile ?? SYSTEM_PROFILE)}`,
    // bash's /dev/tcp, not curl: a minimal NixOS has no curl. stderr first, so a refused connect is quiet.
    "healthz() { # address port path: true when the server answers 200",
    "  local status=''",
    `  { printf 'GET %s HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n' "$3" "$1" >&3; IFS= read -r -t 5 status <&3; } 2>/dev/null 3<>"/dev/tcp/$1/$2" || return 1`,
    `  [[ $status == "HTTP/1."?" 200"* ]]`,
    "}",
    "wait_healthy() { # server unit address port [path, default $HEALTHZ]: the unit active and /healthz 200",
    "  local path=${5:-$HEALTHZ}",
    // bash's SECONDS ticks in whole seconds: +1 so the wait is never shorter than the bound.
    `  local deadline=$((SECONDS + ${t} + 1))`,
    '  until systemctl is-active --quiet "$2" && healthz "$3" "$4" "$path"; do',
    "    if ((SECONDS >= deadline)); then",
    `      echo "cim-nats: $1 (unit $2 $(systemctl is-active "$2" 2>/dev/null || true)) did not answer http://$3:$4$path within ${t}s" >&2`,
    "      return 1",
    "    fi",
    `    sleep ${HEALTH_POLL_SECONDS}`,
    "  done",
    '  echo "cim-nats: $1 healthy (http://$3:$4$path)"',
    "}",
    ...(options.natsServerVersion !== undefined ? versionCheck(options.natsServerVersion) : []),
    "healthy() { # every server of the host",
    ...servers.map(
      (s) => `  wait_healthy ${q(s.serverName)} ${q(s.unit)} ${q(s.monitoringAddress)} ${s.monitoringPort}${roll?.hubServer === s.serverName ? ' "$hub_healthz"' : ""} || return 1`,
    ),
    ...(options.natsServerVersion !== undefined ? servers.map((s) => `  check_version ${q(s.serverName)} ${q(s.monitoringAddress)} ${s.monitoringPort} || return 1`) : []),
    "  true",
    "}",
    "activate() { # system: the profile's new generation, then switch to it",
    '  nix-env -p "$PROFILE" --set "$1" || return 1',
    '  "$1/bin/switch-to-configuration" switch || return 1',
    "}",
    "secret_ok() { # file sha256",
    '  [[ -f $1 ]] && [[ $(sha256sum <"$1") == "$2  -" ]]',
    "}",
    "install_secrets() { # each staged secret to its home (the old one kept aside), or the installed one checked",
    ...secretDirs.map((d) => `  install -d -m 0700 ${q(d)} || return 1`),
    ...secrets.flatMap((s) => {
      const staged = q(stagedPath(s, options));
      const target = q(s.path);
      return [
        `  if [[ -e ${staged} ]]; then`,
        `    secret_ok ${staged} ${s.sha256} || { echo "cim-nats: ${host}: the staged copy of ${s.path} is not the one this deploy copied: run the up again" >&2; return 1; }`,
        `    if [[ -e ${target} ]]; then mv -f ${target} ${q(previousSecretPath(s.path))} || return 1; fi`,
        `    install -D -m ${s.mode} ${staged} ${target} || return 1`,
        `    rm -f ${staged}`,
        `  elif ! secret_ok ${target} ${s.sha256}; then`,
        `    echo "cim-nats: ${host}: ${s.path} is missing or changed on the host and its copy did not run: pulumi up --replace the URN of its copy step" >&2`,
        "    return 1",
        "  fi",
      ];
    }),
    "  true",
    "}",
    "restore_secrets() { # the secrets kept aside back in place",
    ...each((s) => `if [[ -e ${q(previousSecretPath(s.path))} ]]; then mv -f ${q(previousSecretPath(s.path))} ${q(s.path)}; fi`),
    "  true",
    "}",
    "drop_previous_secrets() {",
    ...each((s) => `rm -f ${q(previousSecretPath(s.path))}`),
    "  true",
    "}",
    "remove_staged() { # no staged secret outlives the switch, whatever happened",
    ...each((s) => `rm -f ${q(stagedPath(s, options))}`),
    // What the release before build-once staged and left: the NixOS sources (now built elsewhere).
    `  rm -f ${q(options.stagingDir)}/etc-nixos-*`,
    "  true",
    "}",
    "deploy() {",
    "  set -euo pipefail",
    "  trap remove_staged EXIT",
    // Read before anything is installed: the transport this host last deployed healthily.
    ...(roll !== undefined ? routeRollCheck(host, roll) : []),
    "  local previous",
    '  previous=$(readlink -e "$PROFILE" 2>/dev/null || readlink -e /run/current-system 2>/dev/null || true)',
    // Every secret in place, or the ones already replaced back as they were.
    "  if ! install_secrets; then restore_secrets; return 1; fi",
    '  if activate "$SYSTEM" && healthy; then',
    "    drop_previous_secrets",
    ...(roll !== undefined ? routeRollRecord(roll).map((l) => `  ${l}`) : []),
    `    echo "cim-nats: ${host} deployed ($SYSTEM)"`,
    "    return 0",
    "  fi",
    `  echo "cim-nats: ${host}: $SYSTEM is not healthy within ${t}s; activating the previous generation \${previous:-(none)} again" >&2`,
    "  restore_secrets",
    "  if [[ -z $previous ]]; then",
    `    echo "cim-nats: ${host}: no previous generation to go back to: fix the configuration and run the up again" >&2`,
    '  elif activate "$previous" && healthy; then',
    `    echo "cim-nats: ${host} rolled back to $previous; its new generation failed (above) and nothing after it ran" >&2`,
    "  else",
    `    echo "cim-nats: ${host}: the previous generation $previous is not healthy either: look at the host (journalctl -u 'cim-nats-*')" >&2`,
    "  fi",
    "  return 1",
    "}",
    "deploy </dev/null",
    "",
  ];
  return lines.join("\n");
}

/**
 * `check_version`: the version the running server reports on /varz (what runs, not what a
 * binary on PATH would say) must be the pinned one; a server on another build is not healthy.
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
