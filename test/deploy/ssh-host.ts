/**
 * A throwaway SSH test host on loopback: Debian's sshd on the given addresses with a temp host
 * key, one authorized client key, sftp, and a PATH that puts `binDir` first (where the tests put
 * their stand-ins for the hosts' Nix commands, ssh-fixture.ts). Started and stopped by the test
 * that owns it; so is the ssh-agent the deploy authenticates through.
 */
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { join } from "node:path";
import { generateOpenSshKey } from "../proxmox/ssh-key";

export const SSHD = "/usr/sbin/sshd";

export type SshHost = {
  readonly port: number;
  /** Client private key file (0600) and its text. */
  readonly clientKeyPath: string;
  readonly clientKey: string;
  /** `ssh`/`sftp` options that reach this host without touching ~/.ssh. */
  readonly sshOptions: readonly string[];
  /** The host key sshd presents (`ssh-ed25519 <base64> <comment>`). */
  readonly hostPublicKey: string;
  /** What sshd logged so far (`-e`: connections, authentications, disconnects). */
  log(): string;
  stop(): Promise<void>;
};

function waitForPort(address: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = net.connect(port, address);
      socket.once("connect", () => {
        socket.destroy();
        resolve();
      });
      socket.once("error", () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`sshd did not listen on ${address}:${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

export async function startSshHost(dir: string, addresses: readonly string[], port: number, binDir: string): Promise<SshHost> {
  mkdirSync(dir, { recursive: true });
  const hostKey = generateOpenSshKey("cim-h5-host");
  const client = generateOpenSshKey("cim-h5-client");
  const hostKeyPath = join(dir, "ssh_host_ed25519_key");
  const clientKeyPath = join(dir, "client_key");
  writeFileSync(hostKeyPath, hostKey.privateKey, { mode: 0o600 });
  writeFileSync(clientKeyPath, client.privateKey, { mode: 0o600 });
  writeFileSync(join(dir, "authorized_keys"), `${client.publicKey}\n`, { mode: 0o600 });
  const config = [
    ...addresses.map((a) => `ListenAddress ${a}:${port}`),
    `HostKey ${hostKeyPath}`,
    `PidFile ${join(dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    "StrictModes no",
    "PermitRootLogin prohibit-password",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "Subsystem sftp internal-sftp",
    // Four "hosts" share this one sshd; the deploy opens many sessions at once.
    "MaxStartups 100",
    `SetEnv PATH=${binDir}:/usr/local/bin:/usr/bin:/bin`,
    "",
  ].join("\n");
  const configPath = join(dir, "sshd_config");
  writeFileSync(configPath, config);
  // sshd refuses to start without its privilege-separation directory.
  if (!existsSync("/run/sshd")) mkdirSync("/run/sshd", { mode: 0o755, recursive: true });

  const child: ChildProcess = spawn(SSHD, ["-D", "-e", "-f", configPath], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr!.on("data", (d) => (log += String(d)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await waitForPort(addresses[0], port, 10_000);
  } catch (e) {
    child.kill("SIGTERM");
    throw new Error(`${(e as Error).message}; sshd said: ${log}`);
  }
  return {
    port,
    clientKeyPath,
    clientKey: client.privateKey,
    hostPublicKey: hostKey.publicKey,
    log: () => log,
    sshOptions: ["-i", clientKeyPath, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes"],
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

export type SshAgent = {
  /** SSH_AUTH_SOCK of the agent. */
  readonly socket: string;
  stop(): void;
};

/** An ssh-agent of the test's own (socket under `dir`) holding the key at `keyPath`: how deploys authenticate without a key in config or state. */
export function startSshAgent(dir: string, keyPath: string): SshAgent {
  mkdirSync(dir, { recursive: true });
  const socket = join(dir, "agent.sock");
  const started = spawnSync("ssh-agent", ["-a", socket, "-s"], { encoding: "utf8" });
  const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(started.stdout)?.[1]);
  if (started.status !== 0 || !pid) throw new Error(`ssh-agent did not start: ${started.stderr}`);
  const added = spawnSync("ssh-add", ["-q", keyPath], { encoding: "utf8", env: { ...process.env, SSH_AUTH_SOCK: socket } });
  if (added.status !== 0) {
    process.kill(pid, "SIGTERM");
    throw new Error(`ssh-add failed: ${added.stderr}`);
  }
  return {
    socket,
    stop: () => {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // already gone
      }
    },
  };
}
