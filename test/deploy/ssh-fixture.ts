/**
 * The prod deployment against a local SSH test host (ssh-host.ts), shared by the replay tests and
 * the real-CLI test: the prod topology rebased onto loopback with free ports, each host's rendered
 * files, and stand-ins for the Nix commands that keep Nix's contracts:
 * - on the deploying machine (`builderBin`): `nix-build` makes a "system" from the build dir — the
 *   host's server configs (`etc/cim-nats/<instance>.conf`) and a `bin/switch-to-configuration` —
 *   under a store path that is a hash of everything it was given (as Nix's is), in the builder's
 *   own store; `nix-copy-closure --to` streams it over real SSH (NIX_SSHOPTS: the pinned key, the
 *   agent) to `nix-store --serve --write` on the host;
 * - on the hosts (`hostBin`, sshd's PATH): that `nix-store`, which unpacks into the hosts' store;
 *   `nix-env` and `systemctl` (nix-fakes.ts), each host under `root/<address>/` (its profile, its
 *   units' pid files), told apart by the address the SSH connection came to;
 * - the system's `switch-to-configuration` (re)starts the host's real nats-servers from the
 *   configs it was built with, stopping the running ones the way the NixOS unit does: lame duck
 *   (SIGUSR2), then waiting for the process to exit; a host's units stop together, as one
 *   switch's stop jobs run in systemd.
 * Secrets (the leaf's creds and a key per host) go to `root/<address>/var/lib/cim-nats/secrets/`.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { embeddedFiles } from "../../components/deploy/build-script";
import { HostFiles } from "../../components/deploy/files";
import { natsServerBinary } from "../../components/local/nats-process";
import { renderServerConfig } from "../../components/render/nats-server-config";
import { parseTopology } from "../../components/topology/parse";
import { rebaseAddresses, withDataDir } from "../../components/topology/rebase";
import { Topology } from "../../components/topology/types";
import { freePort } from "../../harness/free-port";
import type { BuildOutput } from "../proxmox/mocks";
import { readStackConfig } from "../support/stack-config";
import { writeNixFakes } from "./nix-fakes";

/** Prod topology on `<prefix>.x` with free ports, stores under `dir` and a 1 s lame duck grace. */
export async function sshTestTopology(dir: string, prefix: string, name = "sshtest"): Promise<Topology> {
  const raw = JSON.parse(JSON.stringify(readStackConfig("prod").topology));
  const p = () => freePort(`${prefix}.1`);
  raw.hub.ports = { client: await p(), monitoring: await p(), routes: await p(), leafnodes: await p() };
  raw.leaf.ports = { client: await p(), monitoring: await p() };
  raw.hub.jetstream = { maxMemory: "64M", maxFile: "256M" };
  raw.leaf.jetstream = { maxMemory: "64M", maxFile: "256M" };
  // The stand-in stops each server with lame duck, as the unit does; the prod default grace (10 s
  // before clients are moved) would make every restart here wait 10 s for nothing the tests look
  // at. 1 s, as the dev stack uses; the rolling tests still probe the hub throughout.
  raw.lameDuck = { durationSeconds: 30, gracePeriodSeconds: 1 };
  return withDataDir(rebaseAddresses(parseTopology(raw, { name }), prefix), join(dir, "data"));
}

/** A host's files as plain data (what a program reads from JSON); `secret` ones become secret Outputs at the edge. */
export type PlainHostFiles = HostFiles<string>;

/** A host's home on this machine: its secrets, profile and units live under it. */
export const hostRoot = (root: string, address: string) => `${root}/${address}`;

/** The secrets each host gets: its leaf creds and a key, with their contents. */
export function hostSecrets(root: string, host: { name: string; address: string }): Record<string, string> {
  const base = `${hostRoot(root, host.address)}/var/lib/cim-nats/secrets`;
  return { [`${base}/${host.name}-leaf.creds`]: `creds of ${host.name}\n`, [`${base}/${host.name}/key.pem`]: `key of ${host.name}\n` };
}

/**
 * Rendered files per host: the public ones the deploying machine builds from (entry point, host
 * file, each server's config at /etc/cim-nats/<instance>.conf, as the module places it) and the
 * secrets (under root/<address>/). `configEdits`: server name → an edit of its rendered config.
 */
export function sshDeployFiles(
  topology: Topology,
  root: string,
  hostFileExtra: Readonly<Record<string, string>> = {},
  configEdits: Readonly<Record<string, (text: string) => string>> = {},
): PlainHostFiles[] {
  return topology.hosts.map((h) => ({
    host: h.name,
    files: [
      { path: "/etc/nixos/configuration.nix", content: `# ${h.name}: entry point\n{ ... }: { imports = [ ./cim-nats/host.nix ]; }\n`, mode: "0644", secret: false },
      { path: "/etc/nixos/cim-nats/host.nix", content: `# ${h.name}\n${hostFileExtra[h.name] ?? ""}`, mode: "0644", secret: false },
      ...h.instances.map((i) => ({
        path: `/etc/cim-nats/${i.kind}.conf`,
        content: (configEdits[i.serverName] ?? ((t: string) => t))(renderServerConfig(topology, i.serverName)),
        mode: "0644",
        secret: false,
      })),
      ...Object.entries(hostSecrets(root, h)).map(([path, content]) => ({ path, content, mode: "0600", secret: true })),
    ],
    systemProfile: `${hostRoot(root, h.address)}/nix/var/nix/profiles/system`,
  }));
}

/** The same files with secret contents as secret Outputs, as a program hands them over. */
export function withSecretOutputs(hosts: readonly PlainHostFiles[]): HostFiles<pulumi.Input<string>>[] {
  return hosts.map((h) => ({ ...h, files: h.files.map((f) => ({ ...f, content: f.secret ? pulumi.secret(f.content) : f.content })) }));
}

/** The store path name the `nix-build` stand-in gives a host's system built from `files` (path → content). */
export function systemName(host: string, files: Readonly<Record<string, string>>): string {
  const h = createHash("sha256");
  for (const path of Object.keys(files).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
    h.update(`${path}\0`);
    h.update(files[path]);
    h.update("\0");
  }
  return `${h.digest("hex").slice(0, 32)}-nixos-system-${host}`;
}

/** The hosts' store (the path a system has on every machine, as /nix/store in prod). */
export const storeDir = (dir: string) => join(dir, "store");

/** What each host's build prints under the mocks: the store path the stand-in builds from its script's files. */
export function predictedBuild(dir: string): BuildOutput {
  const unsecret = (v: any) => (v && typeof v === "object" && "4dabf18193072939515e22adb298388d" in v ? v.value : v);
  return ({ name, inputs }) => `${storeDir(dir)}/${systemName(name.replace(/^.*?-(.*)-build$/, "$1"), embeddedFiles(unsecret(inputs.stdin)))}`;
}

export type DeployTools = {
  /** PATH dir of the deploying machine's stand-ins (nix-build, nix-copy-closure). */
  readonly builderBin: string;
  /** PATH dir of the hosts' stand-ins (nix-store, nix-env, systemctl), for sshd. */
  readonly hostBin: string;
};

/** Writes the stand-ins (see the top of this file) under `dir`. */
export function deployTools(dir: string, root: string): DeployTools {
  const builderBin = join(dir, "builder-bin");
  const hostBin = join(dir, "bin");
  const builderStore = join(dir, "builder", "store");
  for (const d of [builderBin, hostBin, builderStore, storeDir(dir)]) mkdirSync(d, { recursive: true });
  const hostRootOf = `HOST_ROOT=${root}/$(echo "$SSH_CONNECTION" | cut -d' ' -f3)`;
  const switchToConfiguration = `#!/usr/bin/env bash
set -eu
${hostRootOf}
addr=\${HOST_ROOT##*/}
units=$HOST_ROOT/units
mkdir -p "$units"
self=$(cd "$(dirname "$0")/.." && pwd)
echo "$(date +%s%3N) start $addr $self" >> ${dir}/switch.log
# The host's units stop together (as systemd runs the stop jobs of one switch), then start.
stopping=()
for conf in "$self"/etc/cim-nats/*.conf; do
  pidfile=$units/cim-nats-$(basename "$conf" .conf).pid
  if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile")
    rm -f "$pidfile"
    if kill -USR2 "$pid" 2>/dev/null; then stopping+=("$pid"); fi
  fi
done
for pid in "\${stopping[@]}"; do while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; done
for conf in "$self"/etc/cim-nats/*.conf; do
  unit=cim-nats-$(basename "$conf" .conf)
  setsid ${natsServerBinary()} -c "$conf" -P "$units/$unit.pid" >> "$units/$unit.log" 2>&1 < /dev/null &
done
echo "$(date +%s%3N) end $addr $self" >> ${dir}/switch.log
`;
  writeFileSync(join(dir, "switch-to-configuration"), switchToConfiguration, { mode: 0o755 });
  writeFileSync(
    join(builderBin, "nix-build"),
    `#!/usr/bin/env bash
# nix-build <nixos> -A system [-I ...] -I nixos-config=<dir>/etc/nixos/configuration.nix --out-link <link>
set -eu
config='' link=''
while (($#)); do
  case "$1" in
    -I) case "$2" in nixos-config=*) config=\${2#nixos-config=} ;; esac; shift ;;
    --out-link) link=$2; shift ;;
  esac
  shift
done
build=\${config%/etc/nixos/configuration.nix}
host=$(basename "$build"); host=\${host#cim-nats-build-}; host=\${host%.*}
hash=$(cd "$build" && find . -type f -printf '%P\\n' | LC_ALL=C sort | while IFS= read -r f; do printf '/%s\\0' "$f"; cat "$f"; printf '\\0'; done | sha256sum | cut -c1-32)
name=$hash-nixos-system-$host
out=${builderStore}/$name
if [[ ! -e $out ]]; then
  mkdir -p "$out.tmp/etc/cim-nats" "$out.tmp/bin"
  cp "$build"/etc/cim-nats/*.conf "$out.tmp/etc/cim-nats/"
  cp ${dir}/switch-to-configuration "$out.tmp/bin/"
  mv "$out.tmp" "$out"
fi
[[ -n $link ]] && ln -sfn "$out" "$link"
echo "$(date +%s%3N) build $host $name" >> ${dir}/build.log
echo "${storeDir(dir)}/$name"
`,
    { mode: 0o755 },
  );
  writeFileSync(
    join(builderBin, "nix-copy-closure"),
    `#!/usr/bin/env bash
# nix-copy-closure --to <login> <path>: over ssh ($NIX_SSHOPTS, split on spaces as Nix does)
set -eu
[[ $1 == --to ]] || { echo "nix-copy-closure stand-in: only --to" >&2; exit 2; }
name=$(basename "$3")
tar -c -C ${builderStore} "$name" | ssh $NIX_SSHOPTS "$2" nix-store --serve --write
`,
    { mode: 0o755 },
  );
  writeFileSync(
    join(hostBin, "nix-store"),
    `#!/usr/bin/env bash
# nix-store --serve --write: what a closure copy runs on the host
set -eu
[[ "$*" == "--serve --write" ]] || { echo "nix-store stand-in: only --serve --write" >&2; exit 2; }
${hostRootOf}
names=$(tar -x -v -C ${storeDir(dir)} | cut -d/ -f1 | sort -u | tr '\\n' ' ')
echo "$(date +%s%3N) receive \${HOST_ROOT##*/} $names" >> ${dir}/copy.log
`,
    { mode: 0o755 },
  );
  writeNixFakes(hostBin, "$HOST_ROOT/units", join(dir, "profile.log"), hostRootOf);
  return { builderBin, hostBin };
}

export type LogLine = { at: number; event: string; subject: string; detail: string };

function logLines(file: string): LogLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const [at, event, subject, ...detail] = l.split(" ");
      return { at: Number(at), event, subject, detail: detail.join(" ").trim() };
    });
}

/** `start|end <address> <system>`: each switch-to-configuration on a host. */
export const switchLog = (dir: string) => logLines(join(dir, "switch.log"));
/** `build <host> <name>`: each system the deploying machine built. */
export const buildLog = (dir: string) => logLines(join(dir, "build.log"));
/** `receive <address> <names>`: each closure a host received. */
export const copyLog = (dir: string) => logLines(join(dir, "copy.log"));

/** The pid of a host's unit (what its stand-in systemctl reads), or undefined when none runs. */
export function unitPid(root: string, address: string, unit: string): number | undefined {
  const file = `${hostRoot(root, address)}/units/${unit}.pid`;
  return existsSync(file) ? Number(readFileSync(file, "utf8")) : undefined;
}

/** SIGTERMs every server the systems started (by their units' pid files). */
export function stopRecordedServers(root: string): void {
  if (!existsSync(root)) return;
  for (const address of readdirSync(root)) {
    const units = `${root}/${address}/units`;
    if (!existsSync(units)) continue;
    for (const f of readdirSync(units).filter((n) => n.endsWith(".pid"))) {
      try {
        process.kill(Number(readFileSync(join(units, f), "utf8")), "SIGTERM");
      } catch {
        // already stopped
      }
    }
  }
}
