/**
 * TLS by default on the dev stack, through the real Pulumi CLI: a copy of the project on its own
 * addresses (127.0.81.x) and file backend. The first `up` issues the CA and every server's
 * certificate, the servers require TLS, the JetStream providers (and the CID service) connect
 * with the CA, and a no-change preview plans nothing.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as net from "node:net";
import { credsAuthenticator } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsClientTls } from "../../components/tls/client";
import { certInfo } from "../../components/tls/certs";
import { createDevProject, type DevProject } from "../../harness/dev-project";
import { natsServersUnder } from "../../harness/processes";
import { runPulumi, stackOutputs } from "../../harness/pulumi-cli";

const NET = "127.0.81";
let project: DevProject;

const pulumi = (args: string[]) => runPulumi(project.context, [...args, "-s", "dev"], { timeoutMs: 600_000 });

beforeAll(async () => {
  project = createDevProject("cim-nats-tls-");
  const configFile = path.join(project.projectDir, "Pulumi.dev.yaml");
  fs.writeFileSync(configFile, fs.readFileSync(configFile, "utf8").replace(/127\.0\.0\.(\d+)/g, `${NET}.$1`));
  await pulumi(["stack", "select", "--create"]);
}, 120_000);

afterAll(async () => {
  if (project) await project.cleanup();
}, 300_000);

describe("dev stack with TLS (the default)", () => {
  it("comes up with TLS on every listener; clients verify with the CA output; a no-change preview plans nothing", async () => {
    const up = await pulumi(["up", "--yes", "--skip-preview"]);
    console.log(`tls dev up: ${up.ms} ms`);
    expect(natsServersUnder(project.dir)).toHaveLength(7);
    const out = await stackOutputs(project.context, "dev");
    const tls = out.tls as { mode: string; caCert: string };
    expect(tls.mode).toBe("generated");
    expect(tls.caCert).toMatch(/^-----BEGIN CERTIFICATE-----/);

    // Every server's config requires TLS; the route password is in no config, only in the 0600 include.
    for (const server of ["nats-1", "nats-1-hub", "cimstor"]) {
      const conf = fs.readFileSync(path.join(project.dataDir, server, "nats.conf"), "utf8");
      expect(conf).toMatch(/^tls: \{/m);
      const cert = fs.readFileSync(path.join(project.dataDir, server, "tls", "cert.pem"), "utf8");
      expect(certInfo(cert).dnsNames).toContain(server);
      expect((fs.statSync(path.join(project.dataDir, server, "tls", "key.pem")).mode & 0o777).toString(8)).toBe("600");
    }
    const hubConf = fs.readFileSync(path.join(project.dataDir, "nats-1-hub", "nats.conf"), "utf8");
    expect(hubConf).toContain('include "cluster-auth.conf"');
    expect(hubConf).not.toMatch(/password/);

    // The JetStream admin reaches the hub's aggregate over TLS with the CA; a plain client gets no PONG.
    const hub = (out.hub as { clientUrls: string[] }).clientUrls;
    const nc = await connect({ servers: hub, tls: natsClientTls(tls.caCert, hub), authenticator: credsAuthenticator(new TextEncoder().encode(String(out.jetstreamAdminCreds))) });
    const info = await (await jetstreamManager(nc)).streams.info("CLUSTER_PERSON_EVENTS");
    expect(info.config.name).toBe("CLUSTER_PERSON_EVENTS");
    await nc.close();
    const plain = await new Promise<string>((resolve) => {
      let text = "";
      const { hostname, port } = new URL(hub[0]);
      const s = net.connect(Number(port), hostname, () => s.write("CONNECT {}\r\nPING\r\n"));
      s.on("data", (d) => (text += d));
      s.setTimeout(3_000, () => s.destroy());
      s.on("close", () => resolve(text));
      s.on("error", () => resolve(text));
    });
    expect(plain).not.toContain("PONG");

    // Contexts name the CA.
    const contexts = out.natsContexts as Record<string, string>;
    expect(JSON.parse(contexts["hub"]).ca).toMatch(/ca\.pem$/);

    const preview = await pulumi(["preview", "--diff", "--expect-no-changes"]);
    expect(preview.code).toBe(0);
  }, 900_000);
});
