/**
 * Container SSH host keys, read on their Proxmox node and pinned on every deploy connection:
 * - the read script under real bash, with a `pct` stand-in (the key appears only after a few
 *   tries, as on a fresh container; a container that never has one fails with a clear message);
 * - what it printed is checked before it is pinned;
 * - the prod program (mocks): one read per host on its node, that node's configured key pinned,
 *   re-read when the container is replaced; every stage, copy and switch of the host pins the key read.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTAINER_HOST_KEY_PATH, pinnedHostKey, readHostKeyScript } from "../../components/proxmox/container-host-key";
import { MOCK_CONTAINER_HOST_KEY, plain, runProdProgram, type Registered } from "../stack/prod-program";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKMGwCj9hlKhSiEbGGa6LAIXyFvC9YhJ0ptMvHaYXKwe";

describe("the read on the node (bash, pct stand-in)", () => {
  const dir = mkdtempSync(join(tmpdir(), "cim-nixpin-hostkey-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A `pct` that fails `failures` times, then copies `key` (or never, when null) to its destination. */
  function pct(failures: number, key: string | null): string {
    const bin = join(dir, `bin-${failures}-${key === null ? "none" : "key"}`);
    spawnSync("mkdir", ["-p", bin]);
    writeFileSync(
      join(bin, "pct"),
      [
        "#!/usr/bin/env bash",
        `echo "$*" >> ${bin}/calls`,
        `n=$(wc -l < ${bin}/calls)`,
        key === null ? "exit 2" : `if [ "$n" -le ${failures} ]; then exit 2; fi; printf '%s\\n' '${key}' > "$4"`,
        "",
      ].join("\n"),
    );
    chmodSync(join(bin, "pct"), 0o755);
    return bin;
  }
  const run = (bin: string, waitSeconds: number) =>
    spawnSync("bash", ["-s"], { input: readHostKeyScript(201, waitSeconds), encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, timeout: 30_000 });

  it("retries until sshd has made its key, then prints it", () => {
    const bin = pct(2, `${KEY} root@nats-1`);
    const r = run(bin, 30);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${KEY} root@nats-1\n`);
    const calls = spawnSync("cat", [join(bin, "calls")], { encoding: "utf8" }).stdout.trim().split("\n");
    expect(calls).toHaveLength(3);
    expect(calls[0]).toMatch(new RegExp(`^pull 201 ${CONTAINER_HOST_KEY_PATH} /tmp/`));
  });

  it("gives up with a message naming the container when no key appears (the check can fail)", () => {
    const r = run(pct(0, null), 1);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`cim-nats: container 201 has no ${CONTAINER_HOST_KEY_PATH} after 1 s: is it running, with sshd enabled?\n`);
    expect(r.stdout).toBe("");
  });

  it("only an ssh-ed25519 key line is pinned, without its comment", () => {
    expect(pinnedHostKey("nats-1", `${KEY} root@nats-1\n`)).toBe(KEY);
    expect(() => pinnedHostKey("nats-1", "")).toThrow(/nats-1: the container's host key read on its node is not an ssh-ed25519 public key line/);
    expect(() => pinnedHostKey("nats-1", "ssh-rsa AAAAB3NzaC1yc2E root@x")).toThrow(/not an ssh-ed25519/);
  });
});

describe("the prod program pins each container's key (mocks)", () => {
  let registered: Registered[] = [];
  beforeAll(async () => {
    ({ registered } = await runProdProgram());
  }, 60_000);
  const NODE: Record<string, [string, string, number]> = {
    "nats-1": ["pve1", "10.0.0.11", 201],
    "nats-2": ["pve2", "10.0.0.12", 202],
    "nats-3": ["pve3", "10.0.0.13", 203],
    cimstor: ["pve1", "10.0.0.11", 204],
  };
  const PVE_KEYS: Record<string, string> = {
    pve1: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPdDPmOhoM7QsPD27uStGCQOd47WiiKlG2IDSRAtDQZQ",
    pve2: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILKBmG+PsXuwf/bIa9fHOKay154Vp1IZt8H8Zhv7nTW7",
    pve3: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGhFN/Rxixhbx5pl6RAenIJvKp8okF8Qa+Z7ldQHSroJ",
  };

  it.each(Object.keys(NODE))("%s: its key is read on its node, over a connection pinned to the node's key", (host) => {
    const [node, address, vmid] = NODE[host];
    const read = registered.find((r) => r.name === `deploy-${host}-hostkey`)!;
    expect(read.type).toBe("command:remote:Command");
    // Pulumi.prod.yaml logs in through the SSH agent: no key in the connection.
    expect(plain(read.inputs.connection)).toEqual({
      host: address,
      port: 22,
      user: "root",
      hostKey: PVE_KEYS[node],
      dialErrorLimit: 10,
      perDialTimeout: 15,
    });
    expect(read.inputs.create).toBe(readHostKeyScript(vmid));
    // A replaced container (new id) replaces the read (triggers are replace-on-change), which reads the new key.
    expect(read.inputs.triggers).toEqual([`${host}-container-id`]);
  });

  it.each(Object.keys(NODE))("%s: every stage, copy and switch pins the key read (type and base64, no comment), and so does the build's closure copy", (host) => {
    const deploy = registered.filter((r) => r.name.startsWith(`deploy-${host}-`) && !r.name.endsWith("-hostkey") && r.type.startsWith("command:remote:"));
    expect(deploy.length).toBeGreaterThanOrEqual(7);
    for (const r of deploy) expect(plain(r.inputs.connection).hostKey, r.name).toBe(MOCK_CONTAINER_HOST_KEY);
    const build = registered.find((r) => r.name === `deploy-${host}-build`)!;
    expect(plain(build.inputs.environment)).toEqual({ CIM_NATS_HOST_KEY: MOCK_CONTAINER_HOST_KEY });
  });
});
