/**
 * A network namespace per partitioned server, for fault tests (docs/durability.md): the server
 * runs inside it (`ip netns exec`), its ports are forwarded in and the ports it dials out, at the
 * same loopback addresses on both sides, through path-named unix sockets (netns-forwarder.mjs).
 * A partition is an nftables table *inside the namespace* dropping the chosen TCP ports: the
 * connections stall as on a real network cut (no reset); healing deletes the table. The host's
 * own firewall, routes and interfaces are never touched; no interface gets an address.
 *
 * Names start with `fd-` (this suite's prefix on a shared machine); every namespace is deleted by destroy(), and on process exit as a
 * last resort.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const FORWARDER = path.join(__dirname, "netns-forwarder.mjs");
const live = new Set<string>();
process.once("exit", () => {
  for (const name of live) spawnSync("ip", ["netns", "delete", name]);
});

/** Why namespace tests cannot run here ("" when they can). */
export function netnsUnavailable(): string {
  if (process.getuid?.() !== 0) return "network namespaces need root";
  if (spawnSync("ip", ["netns", "list"]).status !== 0) return "`ip netns` does not work here (iproute2 missing?)";
  if (spawnSync("nft", ["--version"]).status !== 0) return "nft is missing (Debian package nftables; `npm run setup` installs it)";
  return "";
}

export type Netns = {
  readonly name: string;
  /** Command prefix that runs a program inside the namespace. */
  readonly exec: readonly string[];
  /**
   * Forwards `inbound` ports (servers inside, reached from the host) and `outbound` ones (servers
   * on the host, dialed from inside), each `address:port`; resolves when both forwarders listen.
   */
  forward(inbound: readonly string[], outbound: readonly string[]): Promise<void>;
  /** Drops every TCP packet inside the namespace to or from these ports (all TCP when none given). */
  cut(ports?: readonly number[]): void;
  /** Removes the cut. */
  heal(): void;
  /** Kills the forwarders and deletes the namespace (kill the servers inside first); idempotent. */
  destroy(): Promise<void>;
};

let counter = 0;

function run(args: readonly string[]): void {
  const r = spawnSync(args[0], args.slice(1), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${args.join(" ")} failed (${r.status}): ${r.stderr || r.stdout}`);
}

async function startForwarder(prefix: readonly string[], specPath: string, logPath: string): Promise<ChildProcess> {
  const log = fs.openSync(logPath, "a");
  const [cmd, ...args] = [...prefix, process.execPath, FORWARDER, specPath];
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", log] });
  fs.closeSync(log);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`forwarder ${specPath} not ready within 10 s (log ${logPath})`)), 10_000);
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`forwarder ${specPath} exited (${code}); log ${logPath}: ${fs.readFileSync(logPath, "utf8").slice(-500)}`));
    });
  });
  return child;
}

/** Creates `fd-<pid>-<n>` with its loopback up; sockets and logs go to `dir`. */
export async function createNetns(dir: string): Promise<Netns> {
  const name = `fd-${process.pid}-${++counter}`;
  run(["ip", "netns", "add", name]);
  live.add(name);
  const exec = ["ip", "netns", "exec", name] as const;
  run([...exec, "ip", "link", "set", "lo", "up"]);
  fs.mkdirSync(dir, { recursive: true });
  const children: ChildProcess[] = [];
  let destroyed = false;
  const table = "fd_cut";

  return {
    name,
    exec,
    async forward(inbound, outbound) {
      const sock = (a: string) => path.join(dir, `${a.replace(/[.:]/g, "_")}.sock`);
      // Host side: inbound TCP → socket; socket → outbound TCP. Inside: the mirror image.
      const host = [...inbound.map((a) => ({ listen: { tcp: a }, connect: { unix: sock(`in-${a}`) } })), ...outbound.map((a) => ({ listen: { unix: sock(`out-${a}`) }, connect: { tcp: a } }))];
      const inside = [...inbound.map((a) => ({ listen: { unix: sock(`in-${a}`) }, connect: { tcp: a } })), ...outbound.map((a) => ({ listen: { tcp: a }, connect: { unix: sock(`out-${a}`) } }))];
      // The unix listeners must exist before the other side's first connection: start the
      // namespace side (it listens for inbound) and the host side (it listens for outbound) both
      // before anything dials.
      fs.writeFileSync(path.join(dir, "inside.json"), JSON.stringify(inside));
      fs.writeFileSync(path.join(dir, "host.json"), JSON.stringify(host));
      children.push(await startForwarder(exec, path.join(dir, "inside.json"), path.join(dir, "inside.log")));
      children.push(await startForwarder([], path.join(dir, "host.json"), path.join(dir, "host.log")));
    },
    cut(ports) {
      const match = ports?.length ? `tcp dport { ${ports.join(", ")} } drop; tcp sport { ${ports.join(", ")} } drop;` : "meta l4proto tcp drop;";
      const rules = `table inet ${table} {\n chain out { type filter hook output priority 0; policy accept; ${match} }\n chain in { type filter hook input priority 0; policy accept; ${match} }\n}\n`;
      const file = path.join(dir, "cut.nft");
      fs.writeFileSync(file, rules);
      run([...exec, "nft", "-f", file]);
    },
    heal() {
      run([...exec, "nft", "delete", "table", "inet", table]);
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      for (const c of children) c.kill("SIGKILL");
      await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once("exit", r)) : undefined)));
      spawnSync("ip", ["netns", "delete", name]);
      live.delete(name);
    },
  };
}
