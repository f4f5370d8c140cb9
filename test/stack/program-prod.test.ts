/**
 * The whole prod program (index.ts → components/stack/program.ts) under Pulumi's mocks: what
 * `pulumi up -s prod` would declare, from Pulumi.prod.yaml alone. NKeys, JWTs, the TLS CA,
 * certificates and route password are made by their real provider functions inside the mock, so
 * creds, certificates and rendered configs are real.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { plain, runProdProgram, type Registered } from "./prod-program";

let registered: Registered[] = [];
let outputs: Record<string, any>;


beforeAll(async () => {
  ({ registered, outputs } = await runProdProgram());
}, 60_000);

const ofType = (suffix: string) => registered.filter((r) => r.type.endsWith(suffix));

describe("pulumi up -s prod, as declared", () => {
  it("one NixOS LXC container per host on its node", () => {
    const containers = ofType(":ContainerLegacy");
    expect(containers.map((c) => [c.inputs.vmId, c.inputs.nodeName]).sort()).toEqual([
      [201, "pve1"], [202, "pve2"], [203, "pve3"], [204, "pve1"],
    ]);
  });

  it("deploys configuration.nix, the module, the host file, the SSH access, 0600 link creds (application and system) and TLS files to every host", () => {
    const copies = ofType(":CopyToRemote");
    const forHost = (h: string) => copies.filter((c) => c.name.includes(`-${h}-`));
    // cimstor also runs the CID service (Pulumi.prod.yaml's cim-nats:cidService): its unit module,
    // program bundle, enabling file and its user's creds.
    const cid = ["etc-nixos-cim-nats-cid-service.js", "etc-nixos-cim-nats-cid-service.nix", "etc-nixos-cim-nats-modules-cim-cid-service.nix", "var-lib-cim-nats-secrets-cid-service.creds"];
    for (const h of ["nats-1", "nats-2", "nats-3", "cimstor"]) {
      expect(forHost(h).map((c) => c.inputs.remotePath.split("/").pop()).sort()).toEqual(
        [
          "etc-nixos-cim-nats-access.nix",
          "etc-nixos-cim-nats-host.nix",
          "etc-nixos-cim-nats-modules-cim-nats.nix",
          // The pinned nats-server, the nixpkgs pin and Nix's settings (gc, NIX_PATH).
          "etc-nixos-cim-nats-modules-nats-server.nix",
          "etc-nixos-cim-nats-nixpkgs.nix",
          "etc-nixos-cim-nats-system.nix",
          "etc-nixos-configuration.nix",
          `var-lib-cim-nats-secrets-leaf-${h}.creds`,
          `var-lib-cim-nats-secrets-leaf-${h}-sys.creds`,
          // TLS: each server's certificate, key and the CA; a hub member's route authorization.
          ...["ca.pem", "cert.pem", "key.pem"].map((f) => `var-lib-cim-nats-secrets-${h}-${f}`),
          ...(h === "cimstor" ? cid : ["ca.pem", "cert.pem", "cluster-auth.conf", "key.pem"].map((f) => `var-lib-cim-nats-secrets-${h}-hub-${f}`)),
        ].sort(),
      );
    }
    const switches = ofType(":Command").filter((c) => c.name.endsWith("-switch"));
    expect(switches).toHaveLength(4);
    const script = JSON.stringify(switches.find((s) => s.name.includes("nats-2"))!.inputs);
    expect(script).toContain("/var/lib/cim-nats/secrets/leaf-nats-2.creds");
    expect(script).toContain("/var/lib/cim-nats/secrets/leaf-nats-2-sys.creds");
    expect(script).toContain("0600");
    // Against the pinned nixpkgs the switch fetched, never the template's channel.
    expect(script).toContain('nixos-rebuild switch -I \\"nixpkgs=$NIXPKGS\\"');
    expect(script).toContain("nix-instantiate --eval --read-write-mode --json /etc/nixos/cim-nats/nixpkgs.nix");
  });

  it("each hub host's switch records its route transport (no file of the NixOS config) and relaxes its wait across a change, but the last", () => {
    const stdin = (host: string): string => plain(ofType(":Command").find((c) => c.name.endsWith(`-${host}-switch`))!.inputs.stdin);
    const transport = `'{"name":"cim-hub","tls":true,"auth":true}'`;
    for (const host of ["nats-1", "nats-2", "nats-3"]) {
      expect(stdin(host)).toContain(`printf '%s\\n' ${transport} >/var/lib/cim-nats/route-transport.new`);
      expect(stdin(host)).toContain(`wait_healthy ${host}-hub 127.0.0.1 8223 "$hub_healthz"`);
      expect(stdin(host).includes("hub_healthz='/healthz?js-server-only=true'")).toBe(host !== "nats-3");
    }
    expect(stdin("cimstor")).not.toContain("route-transport");
  });

  it("issues the CA, a certificate per server and the route password, and deploys them as 0600 secrets", async () => {
    const { X509Certificate } = await import("node:crypto");
    expect(ofType(":TlsCa")).toHaveLength(1);
    const certs = ofType(":ServerCert");
    expect(certs.map((c) => c.name).sort()).toEqual(
      ["cimstor", "nats-1", "nats-1-hub", "nats-2", "nats-2-hub", "nats-3", "nats-3-hub"].map((s) => `tls-cert-${s}`),
    );
    expect(ofType(":RoutePassword")).toHaveLength(1);
    const copies = ofType(":CopyToRemote");
    const content = (host: string, file: string) => {
      const copy = copies.find((c) => c.name.includes(`-${host}-`) && c.inputs.remotePath.endsWith(`-${file}`))!;
      return copy.inputs.source;
    };
    const text = async (host: string, file: string): Promise<string> => plain(await plain(plain(content(host, file)).text));
    // Every secret file's content is a secret; the key and the route authorization are real.
    for (const [host, file] of [["nats-2", "nats-2-key.pem"], ["nats-2", "nats-2-hub-key.pem"], ["nats-2", "nats-2-hub-cluster-auth.conf"], ["cimstor", "cimstor-cert.pem"]]) {
      expect(content(host, file), file).toHaveProperty("4dabf18193072939515e22adb298388d");
    }
    expect((await text("nats-2", "nats-2-hub-key.pem"))).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const auth = (await text("nats-2", "nats-2-hub-cluster-auth.conf"));
    expect(auth).toMatch(/user: "cim-route"/);
    expect(auth).toMatch(/"nats-route:\/\/cim-route:[A-Za-z0-9_-]{24,}@10\.0\.0\.41:6222"/);
    // The certificate names the host's address and chains to the CA the stack exports.
    const cert = new X509Certificate((await text("nats-2", "nats-2-hub-cert.pem")));
    expect(cert.subjectAltName).toContain("IP Address:10.0.0.42");
    expect(cert.verify(new X509Certificate(outputs.tls.caCert).publicKey)).toBe(true);
    expect(outputs.tls.mode).toBe("generated");
    // The public host file references them by path only, in the unit's runtime dir.
    const hostNix = (await text("nats-2", "host.nix"));
    expect(content("nats-2", "host.nix")).not.toHaveProperty("4dabf18193072939515e22adb298388d");
    expect(hostNix).toContain('cert_file = "/run/cim-nats-hub/cert.pem";');
    expect(hostNix).toContain('include = "cluster-auth.conf";');
    expect(hostNix).toContain('clusterAuthFile = "/var/lib/cim-nats/secrets/nats-2-hub/cluster-auth.conf";');
    expect(hostNix).not.toMatch(/PRIVATE KEY|cim-route:/);
    // cimstor's CID service trusts the CA placed for its leaf.
    const cidNix = (await text("cimstor", "cid-service.nix"));
    expect(cidNix).toContain('caFile = "/var/lib/cim-nats/secrets/cimstor/ca.pem";');
  });

  it("declares the reference JetStream set against the prod addresses, with the admin creds as a secret", () => {
    const streams = ofType(":Stream");
    const pe = streams.filter((s) => plain(s.inputs.name) === "PERSON_EVENTS");
    expect(pe.map((s) => plain(s.inputs.target).servers).sort()).toEqual([
      ["nats://10.0.0.41:4222"], ["nats://10.0.0.42:4222"], ["nats://10.0.0.43:4222"], ["nats://172.16.0.2:4222"],
    ]);
    const agg = streams.find((s) => plain(s.inputs.name) === "CLUSTER_PERSON_EVENTS")!;
    expect(plain(agg.inputs.target).servers).toEqual(["nats://10.0.0.41:4223", "nats://10.0.0.42:4223", "nats://10.0.0.43:4223"]);
    expect(agg.inputs.subjects ?? []).toEqual([]);
    expect(agg.inputs.sources.map((s: any) => s.external.api)).toEqual(["$JS.nats-1.API", "$JS.nats-2.API", "$JS.nats-3.API", "$JS.cimstor.API"]);
    expect(agg.inputs.republish).toEqual({ src: ">", dest: ">" });
    expect(agg.inputs.target).toHaveProperty("4dabf18193072939515e22adb298388d"); // secret envelope
    expect(plain(agg.inputs.target).credentials.creds).toMatch(/BEGIN NATS USER JWT/);
    expect(ofType(":KvBucket").map((k) => `${plain(k.inputs.bucket)}@${plain(k.inputs.target).domain}`).sort()).toEqual([
      "CLUSTER_METADATA@hub", "PERSON_METADATA@cimstor", "PERSON_METADATA@nats-1", "PERSON_METADATA@nats-2", "PERSON_METADATA@nats-3",
    ]);
    expect(ofType(":ObjectStore").some((o) => plain(o.inputs.bucket) === "CLUSTER_OBJECTS" && plain(o.inputs.target).domain === "cimstor")).toBe(true);
    // Prod keeps the data-loss guard.
    expect([...streams, ...ofType(":KvBucket"), ...ofType(":ObjectStore")].every((r) => !plain(r.inputs.allowDataLoss))).toBe(true);
  });

  it("exports the endpoints in the documented shape", () => {
    expect(outputs.substrate).toBe("proxmox");
    expect(outputs.leaves["nats-2"]).toEqual({ host: "nats-2", clientUrl: "nats://10.0.0.42:4222", monitoringUrl: "http://127.0.0.1:8222", monitoringScope: "host", jetstreamDomain: "nats-2" });
    expect(outputs.hub.leafnodeUrls).toEqual(["nats-leaf://10.0.0.41:7422", "nats-leaf://10.0.0.42:7422", "nats-leaf://10.0.0.43:7422"]);
    expect(outputs.jetstream.streams.CLUSTER_PERSON_EVENTS).toEqual(["hub"]);
    // Every server fsyncs before it acks (docs/durability.md); verify compares this with /varz.
    expect(outputs.durability.map((d: { server: string; syncInterval: string }) => `${d.server}:${d.syncInterval}`)).toEqual([
      "nats-1:always", "nats-2:always", "nats-3:always", "cimstor:always", "nats-1-hub:always", "nats-2-hub:always", "nats-3-hub:always",
    ]);
    expect(Object.keys(outputs.creds).sort()).toEqual(["cid-service", "jetstream-admin", "pattern-service", "person-service", "projection-service", "sys-monitor"]);
  });
});

describe("secrets of a real-machine stack", () => {
  it("refuses the dev stack's well-known passphrase before declaring anything", async () => {
    const { program, DEV_PASSPHRASE } = await import("../../components/stack/program");
    const saved = process.env.PULUMI_CONFIG_PASSPHRASE;
    process.env.PULUMI_CONFIG_PASSPHRASE = DEV_PASSPHRASE;
    const before = registered.length;
    try {
      expect(() => program()).toThrow(/well-known passphrase.*PULUMI_CONFIG_PASSPHRASE.*change-secrets-provider/);
      expect(registered.length).toBe(before);
    } finally {
      if (saved === undefined) delete process.env.PULUMI_CONFIG_PASSPHRASE;
      else process.env.PULUMI_CONFIG_PASSPHRASE = saved;
    }
  });
});
