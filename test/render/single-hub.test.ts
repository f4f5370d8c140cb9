/**
 * A hub of one member (replicas 1): rendered without a cluster block, because nats-server exits
 * at start when a clustered JetStream has no routes. Proven by starting it for real.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startNatsServer, stopNatsServer, waitHealthy } from "../../components/local/nats-process";
import { serverConfigTree, renderServerConfig } from "../../components/render/nats-server-config";
import { parseTopology } from "../../components/topology/parse";
import { withDataDir } from "../../components/topology/rebase";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-single-hub-"));
const topology = withDataDir(
  parseTopology({
    hub: { replicas: 1 },
    hosts: [
      { name: "solo", vmid: 300, node: "pve1", address: "127.0.7.1", roles: ["hub"] },
      { name: "edge", vmid: 301, node: "pve1", address: "127.0.7.2", roles: ["leaf"] },
    ],
  }),
  dir,
);
const pids: number[] = [];

afterAll(async () => {
  for (const pid of pids) await stopNatsServer(pid);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("a one-member hub", () => {
  it("has no cluster block but keeps its leafnode listener and the hub domain", () => {
    const tree = serverConfigTree(topology, "solo-hub") as Record<string, any>;
    expect(tree.cluster).toBeUndefined();
    expect(tree.leafnodes).toEqual({ listen: "127.0.7.1:7422" });
    expect(tree.jetstream.domain).toBe("hub");
  });

  it("starts, serves JetStream, and its leaf links up", async () => {
    for (const server of ["solo-hub", "edge"]) {
      const configPath = path.join(dir, `${server}.conf`);
      fs.writeFileSync(configPath, renderServerConfig(topology, server));
      const { pid } = await startNatsServer({ configPath, logPath: path.join(dir, `${server}.log`) });
      pids.push(pid);
    }
    await waitHealthy("http://127.0.7.1:8223", 20_000, pids[0]);
    await waitHealthy("http://127.0.7.2:8222", 20_000, pids[1]);
    const deadline = Date.now() + 10_000;
    let leafs = 0;
    while (leafs < 1 && Date.now() < deadline) {
      leafs = ((await (await fetch("http://127.0.7.1:8223/leafz")).json()) as { leafnodes: number }).leafnodes;
      if (leafs < 1) await new Promise((r) => setTimeout(r, 100));
    }
    expect(leafs).toBe(1);
    const jsz = (await (await fetch("http://127.0.7.1:8223/jsz")).json()) as { config: { domain: string } };
    expect(jsz.config.domain).toBe("hub");
  });
});
