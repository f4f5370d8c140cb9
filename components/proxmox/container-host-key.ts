/**
 * Each container's SSH host key, read where it cannot be forged: on the Proxmox node that runs the
 * container (`pct pull` copies the file out of the container's own file system), over an SSH
 * connection that pins the node's host key from the stack config (`ssh.nodes[].hostKey`). The
 * deploy then pins the container's key on every connection to it (@pulumi/command's
 * `connection.hostKey`: ssh.FixedHostKey, checked in the key exchange, before the deploy
 * authenticates or sends a file). Pure: the script and the check of what it printed.
 */

/** Where NixOS keeps sshd's ed25519 host key (services.openssh.hostKeys' default). */
export const CONTAINER_HOST_KEY_PATH = "/etc/ssh/ssh_host_ed25519_key.pub";

/** Seconds the read waits for a fresh container's sshd to have made its key. */
export const HOST_KEY_WAIT_SECONDS = 120;

/**
 * Runs on the node: prints the container's public host key. A fresh container makes its key when
 * sshd first starts, so the read retries for a while; `pct pull` needs nothing inside the container.
 */
export function readHostKeyScript(vmid: number, waitSeconds = HOST_KEY_WAIT_SECONDS): string {
  return [
    `# cim-nats: the SSH host key of container ${vmid}, read on its node, for the deploy to pin.`,
    "set -eu",
    'tmp=$(mktemp)',
    'trap \'rm -f "$tmp"\' EXIT',
    `deadline=$(( $(date +%s) + ${waitSeconds} ))`,
    `until pct pull ${vmid} ${CONTAINER_HOST_KEY_PATH} "$tmp" 2>/dev/null && [ -s "$tmp" ]; do`,
    `  if [ "$(date +%s)" -ge "$deadline" ]; then echo "cim-nats: container ${vmid} has no ${CONTAINER_HOST_KEY_PATH} after ${waitSeconds} s: is it running, with sshd enabled?" >&2; exit 1; fi`,
    "  sleep 2",
    "done",
    'cat "$tmp"',
    "",
  ].join("\n");
}

const PUBLIC_KEY = /^(ssh-ed25519) ([A-Za-z0-9+/]+={0,2})(?: .*)?$/;

/** `<type> <base64>` of what the read printed, or an Error naming the host and what came back. */
export function pinnedHostKey(host: string, printed: string): string {
  const line = printed.trim().split("\n")[0] ?? "";
  const m = PUBLIC_KEY.exec(line);
  if (!m) throw new Error(`${host}: the container's host key read on its node is not an ssh-ed25519 public key line: ${JSON.stringify(printed.slice(0, 200))}`);
  return `${m[1]} ${m[2]}`;
}

/** An OpenSSH public key line as config gives it (`<type> <base64> [comment]`). */
export const OPENSSH_PUBLIC_KEY = /^(ssh-|ecdsa-|sk-)\S+ [A-Za-z0-9+/=]+( .*)?$/;
