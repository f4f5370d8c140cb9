/**
 * The prod deployment against a local SSH test host (ssh-host.ts), shared by the replay test and
 * the real-CLI test: the prod topology rebased onto loopback with free ports, the rendered files
 * of each host under `root/<address>/`, and a `nixos-rebuild` stand-in that logs each call and
 * (re)starts the host's real nats-servers from the configs just deployed, stopping them the way
 * the NixOS unit does: lame duck (SIGUSR2), then waiting for the process to exit.
 */
import * as pulumi from "@pulumi/pulumi";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HostFiles } from "../../components/deploy/files";
import { natsServerBinary } from "../../components/local/nats-process";
import { renderServerConfig } from "../../components/render/nats-server-config";
import { parseTopology } from "../../components/topology/parse";
import { rebaseAddresses, withDataDir } from "../../components/topology/rebase";
import { Topology } from "../../components/topology/types";
import { freePort } from "../local/free-port";
import { readStackConfig } from "../support/stack-config";

/** Prod topology on `<prefix>.x` with free ports, stores under `dir` and a 1 s lame duck grace. */
export async function sshTestTopology(dir: string, prefix: string, name = "sshtest"): Promise<Topology> {
  const raw = JSON.parse(JSON.stringify(readStackConfig("prod").topology));
  const p = () => freePort(`${prefix}.1`);
  raw.hub.ports = { client: await p(), monitoring: await p(), routes: await p(), leafnodes: await p() };
  raw.leaf.ports = { client: await p(), monitoring: await p() };
  raw.hub.jetstream = { maxMemory: "64M", maxFile: "256M" };
  raw.leaf.jetstream = { maxMemory: "64M", maxFile: "256M" };
  // The recorder stops each server with lame duck, as the unit does; the prod default grace (10 s
  // before clients are moved) would make every restart here wait 10 s for nothing the tests look
  // at. 1 s, as the dev stack uses; the rolling tests still probe the hub throughout.
  raw.lameDuck = { durationSeconds: 30, gracePeriodSeconds: 1 };
  return withDataDir(rebaseAddresses(parseTopology(raw, { name }), prefix), join(dir, "data"));
}

/** A host's files as plain data (what a program reads from JSON); `secret` ones become secret Outputs at the edge. */
export type PlainHostFiles = HostFiles<string>;

/** Rendered files per host, all under `root/<address>/` so several "hosts" share this machine. */
export function sshDeployFiles(topology: Topology, root: string, hostFileExtra: Readonly<Record<string, string>> = {}): PlainHostFiles[] {
  return topology.hosts.map((h) => ({
    host: h.name,
    files: [
      ...h.instances.map((i) => ({ path: `${root}/${h.address}/etc/cim-nats/${i.serverName}.conf`, content: renderServerConfig(topology, i.serverName), mode: "0644", secret: false })),
      { path: `${root}/${h.address}/etc/nixos/cim-nats/host.nix`, content: `# ${h.name}\n${hostFileExtra[h.name] ?? ""}`, mode: "0644", secret: false },
      { path: `${root}/${h.address}/var/lib/cim-nats/secrets/${h.name}-leaf.creds`, content: `creds of ${h.name}\n`, mode: "0600", secret: true },
    ],
  }));
}

/** The same files with secret contents as secret Outputs, as a program hands them over. */
export function withSecretOutputs(hosts: readonly PlainHostFiles[]): HostFiles<pulumi.Input<string>>[] {
  return hosts.map((h) => ({ ...h, files: h.files.map((f) => ({ ...f, content: f.secret ? pulumi.secret(f.content) : f.content })) }));
}

/** Writes the `nixos-rebuild` stand-in into `dir/bin` and returns that dir. */
export function rebuildRecorder(dir: string, root: string): string {
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  mkdirSync(join(dir, "run"), { recursive: true });
  writeFileSync(
    join(bin, "nixos-rebuild"),
    `#!/usr/bin/env bash
set -eu
addr=$(echo "$SSH_CONNECTION" | cut -d' ' -f3)
echo "$(date +%s%3N) start $addr $*" >> ${dir}/rebuild.log
for conf in ${root}/$addr/etc/cim-nats/*.conf; do
  name=$(basename "$conf" .conf)
  pidfile=${dir}/run/$name.pid
  if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile")
    if kill -USR2 "$pid" 2>/dev/null; then while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; fi
  fi
  setsid ${natsServerBinary()} -c "$conf" -P "$pidfile" >> ${dir}/run/$name.log 2>&1 < /dev/null &
done
echo "$(date +%s%3N) end $addr" >> ${dir}/rebuild.log
`,
    { mode: 0o755 },
  );
  return bin;
}

export type RebuildLine = { at: number; event: "start" | "end"; address: string; args: string };

export function rebuildLog(dir: string): RebuildLine[] {
  const file = join(dir, "rebuild.log");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((l) => {
      const [at, event, address, ...args] = l.split(" ");
      return { at: Number(at), event: event as "start" | "end", address, args: args.join(" ") };
    });
}

/** SIGTERMs the servers the recorder started (by their pid files). */
export function stopRecordedServers(dir: string): void {
  const run = join(dir, "run");
  if (!existsSync(run)) return;
  for (const f of readdirSync(run).filter((n) => n.endsWith(".pid"))) {
    try {
      process.kill(Number(readFileSync(join(run, f), "utf8")), "SIGTERM");
    } catch {
      // already stopped
    }
  }
}
