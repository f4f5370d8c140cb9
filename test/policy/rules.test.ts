/**
 * The policy pack's rules, run the way the analyzer runs them (harness.ts), on the inputs the
 * program really gives its resources: prod's rendered host.nix, dev's rendered server config,
 * the claims a user JWT signs, a store's config and a container's state. Through the real CLI:
 * policy-cli.test.ts.
 */
import { describe, expect, it } from "vitest";
import { stateByUrn, largestDomainOf, type PolicyContext, type StateResource } from "../../policy/context";
import { nixAttribute } from "../../policy/nix-settings";
import { containerGuard } from "../../policy/rules/container-guard";
import { grantsSharedInbox, noSharedInboxGrants } from "../../policy/rules/no-shared-inbox";
import { containerReplaceReasons, noUnapprovedReplacement, storeReplaceReasons } from "../../policy/rules/replacement";
import { replicasWithinDomain } from "../../policy/rules/replicas-within-domain";
import { hostNixServers, listenersWithoutTls, tlsInProd } from "../../policy/rules/tls-in-prod";
import { TYPES } from "../../policy/resource-types";
import { renderServerConfig, serverConfigTree } from "../../components/render/nats-server-config";
import { nixosInstanceOptions, renderNixosHost } from "../../components/render/nixos-host";
import { loadStackModel } from "../../components/stack/stack-model";
import { buildScript } from "../../components/deploy/build-script";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT, readStackConfig } from "../support/stack-config";
import { testSecurity } from "../render/test-security";
import { runRule, urnOf, withUnknown } from "./harness";

const context = (over: Partial<PolicyContext> = {}): PolicyContext => ({
  substrate: () => "proxmox",
  priorState: () => new Map(),
  largestDomain: () => 3,
  ...over,
});
/** A host's build command as the deploy declares it, carrying `files` (path → text) besides its entry point. */
const build = (files: Record<string, string>) => ({
  create: "bash -s",
  stdin: buildScript(
    [{ path: "/etc/nixos/configuration.nix", content: "{ ... }: { }\n" }, ...Object.entries(files).map(([path, content]) => ({ path, content }))].map((f) => ({ ...f, mode: "0644", secret: false })),
    { nixosConfig: "/etc/nixos/configuration.nix", gcRootName: "prod-nats-1" },
    { host: "nats-1", address: "10.0.0.41", user: "root", port: 22, pinHostKey: true },
  ),
});

describe("tls-in-prod", () => {
  // Prod's topology (the Proxmox section is not what this rule reads).
  const prod = loadStackModel("prod", { ...readStackConfig("prod"), substrate: "local", proxmox: undefined });

  it("reads back every server's settings from prod's rendered host.nix exactly", async () => {
    const { security } = await testSecurity(prod.topology, "/var/lib/cim-nats/secrets");
    for (const host of prod.topology.hosts) {
      const servers = hostNixServers(renderNixosHost(prod.topology, host.name, security))!;
      expect(Object.keys(servers).sort()).toEqual(host.instances.map((i) => i.serverName).sort());
      for (const i of host.instances) expect(servers[i.serverName]).toEqual(nixosInstanceOptions(prod.topology, i, security).settings);
    }
  });

  it("flags each listener without tls in a proxmox stack's host.nix, naming the server and the fix", async () => {
    const { security } = await testSecurity(prod.topology, "/var/lib/cim-nats/secrets");
    const text = renderNixosHost(prod.topology, "nats-1", security);
    const run = await runRule(tlsInProd(context()), { type: TYPES.localCommand, name: "deploy-nats-1-build", props: build({ "/etc/nixos/cim-nats/host.nix": text }) });
    const hasTls = (nixAttribute(text, "services.cim-nats") as any).instances.leaf.settings.tls !== undefined;
    if (hasTls) {
      // TLS rendered (the tls work merged): the same host passes.
      expect(run.violations).toEqual([]);
      return;
    }
    expect(run.violations).toHaveLength(2);
    expect(run.violations.join("\n")).toMatch(/nats-server 'nats-1' .* no tls block on the client listener \(top-level tls\), leafnodes\.remotes\[0\]/);
    expect(run.violations.join("\n")).toMatch(/nats-server 'nats-1-hub' .* the client listener \(top-level tls\), cluster \(routes\), the leafnodes listener/);
    expect(run.violations[0]).toContain("Fix: set cim-nats:tls to { mode: generated }");
  });

  it("passes a config with tls on every listener and leaf remote", () => {
    const tls = { cert_file: "/c.pem", key_file: "/k.pem", ca_file: "/ca.pem" };
    const hub = serverConfigTree(prod.topology, "nats-1-hub") as any;
    const leaf = serverConfigTree(prod.topology, "nats-1") as any;
    expect(listenersWithoutTls({ ...hub, tls, cluster: { ...hub.cluster, tls }, leafnodes: { ...hub.leafnodes, tls } })).toEqual([]);
    expect(listenersWithoutTls({ ...leaf, tls, leafnodes: { ...leaf.leafnodes, remotes: leaf.leafnodes.remotes.map((r: object) => ({ ...r, tls })) } })).toEqual([]);
    expect(listenersWithoutTls({ ...hub, tls, cluster: { ...hub.cluster, tls }, leafnodes: hub.leafnodes })).toEqual(["the leafnodes listener"]);
  });

  it("checks dev's LocalNatsServer configText only when its substrate is required", async () => {
    const dev = loadStackModel("dev", readStackConfig("dev"));
    const props = { serverName: "nats-1-hub", configText: renderServerConfig(dev.topology, "nats-1-hub") };
    const local = await runRule(tlsInProd(context({ substrate: () => "local" })), { type: TYPES.localServer, name: "servers-nats-1-hub", props });
    expect(local.notApplicable).toMatch(/substrate 'local'/);
    const required = await runRule(tlsInProd(context({ substrate: () => "local" })), { type: TYPES.localServer, name: "servers-nats-1-hub", props, config: { substrates: ["local"] } });
    expect(required.violations).toHaveLength(1);
    expect(required.violations[0]).toContain("cluster (routes)");
  });

  it("reads host.nix only, not the other files a build carries (the module only declares options.services.cim-nats)", async () => {
    const moduleText = readFileSync(join(PROJECT_ROOT, "nix", "modules", "cim-nats.nix"), "utf8");
    expect(moduleText).toContain("services.cim-nats");
    const run = await runRule(tlsInProd(context()), { type: TYPES.localCommand, name: "deploy-nats-1-build", props: build({ "/etc/nixos/cim-nats/modules/cim-nats.nix": moduleText }) });
    expect(run).toEqual({ violations: [] });
    // Another local command: nothing to read.
    expect(await runRule(tlsInProd(context()), { type: TYPES.localCommand, name: "other", props: { create: "true" } })).toEqual({ violations: [] });
  });

  it("waits for up when a preview does not know the host's files yet (the build's script is unknown)", async () => {
    const run = await runRule(tlsInProd(context()), { type: TYPES.localCommand, name: "deploy-nats-1-build", props: withUnknown({ create: "bash -s" }, "stdin") });
    expect(run.notApplicable).toMatch(/checked again at up/);
  });
});

describe("container-unprivileged-protected", () => {
  const ok = { unprivileged: true, protection: true };
  it("passes an unprivileged, protected container with Pulumi's protect", async () => {
    expect((await runRule(containerGuard, { type: TYPES.container, name: "nats-1-container", props: ok, opts: { protect: true } })).violations).toEqual([]);
  });
  it.each([
    [{ ...ok, unprivileged: false }, true, /is privileged .* Fix: unprivileged: true/],
    [{ ...ok, protection: false }, true, /protection: false: .* Fix: cim-nats:proxmox.protect: true/],
    [ok, false, /lacks Pulumi's protect option/],
  ])("flags %j with protect=%s", async (props, protect, message) => {
    const run = await runRule(containerGuard, { type: TYPES.container, name: "nats-1-container", props, opts: { protect } });
    expect(run.violations).toHaveLength(1);
    expect(run.violations[0]).toMatch(message);
    expect(run.violations[0]).toContain("'nats-1-container'");
  });
});

describe("no-unapproved-replacement", () => {
  const containerState = (inputs: Record<string, unknown>): StateResource => ({ urn: urnOf(TYPES.container, "nats-1-container"), type: TYPES.container, id: "201", inputs });
  const base = { nodeName: "pve1", vmId: 201, unprivileged: true, operatingSystem: { type: "nixos", templateFileId: "local:vztmpl/a.tar.xz" }, initialization: { hostname: "nats-1", userAccount: { keys: ["ssh-ed25519 A"] } }, cpu: { cores: 2 } };
  const ignore = ["initialization.userAccount.keys", "operatingSystem.templateFileId"];

  it("sees a container's force-new inputs and nothing else", () => {
    expect(containerReplaceReasons(containerState(base), { ...base, cpu: { cores: 4 } }, ignore)).toEqual([]);
    // Its ignoreChanges (key rotation, template bump) never replace it.
    expect(containerReplaceReasons(containerState(base), { ...base, operatingSystem: { ...base.operatingSystem, templateFileId: "local:vztmpl/b.tar.xz" }, initialization: { hostname: "nats-1", userAccount: { keys: ["ssh-ed25519 B"] } } }, ignore)).toEqual([]);
    expect(containerReplaceReasons(containerState({ ...base, __defaults: [] }), { ...base, nodeName: "pve2" }, ignore)).toEqual(['nodeName "pve1" → "pve2"']);
  });

  it("refuses a replacement unless allowReplace names the URN", async () => {
    const urn = urnOf(TYPES.container, "nats-1-container");
    const ctx = context({ priorState: () => new Map([[urn, containerState(base)]]) });
    const props = { ...base, vmId: 211 };
    const refused = await runRule(noUnapprovedReplacement(ctx), { type: TYPES.container, name: "nats-1-container", props, opts: { ignoreChanges: ignore } });
    expect(refused.violations).toHaveLength(1);
    expect(refused.violations[0]).toContain("would be replaced (vmId 201 → 211)");
    expect(refused.violations[0]).toContain(`add "${urn}" to allowReplace`);
    const allowed = await runRule(noUnapprovedReplacement(ctx), { type: TYPES.container, name: "nats-1-container", props, opts: { ignoreChanges: ignore }, config: { allowReplace: [urn] } });
    expect(allowed.violations).toEqual([]);
    // Not in the prior state: a create.
    expect((await runRule(noUnapprovedReplacement(context()), { type: TYPES.container, name: "nats-1-container", props })).violations).toEqual([]);
  });

  it("applies the stream provider's own replace rules, old outputs against new inputs", async () => {
    const target = { servers: ["nats://127.0.95.41:4223"], domain: "hub" };
    const urn = urnOf(TYPES.stream, "stream-PATTERNS-hub");
    const old: StateResource = { urn, type: TYPES.stream, id: "stream:hub/PATTERNS", outputs: { name: "PATTERNS", subjects: ["patterns.>"], storage: "file", num_replicas: 3, target: { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ciphertext: "x" } } };
    const news = { name: "PATTERNS", subjects: ["patterns.>"], storage: "file", num_replicas: 3, max_age: "24h", target };
    expect(storeReplaceReasons(TYPES.stream, old, news, "hub")).toEqual([]);
    expect(storeReplaceReasons(TYPES.stream, old, { ...news, storage: "memory" }, "hub")).toEqual(['storage cannot change after creation ("file" → "memory")']);
    const ctx = context({ priorState: () => new Map([[urn, old]]) });
    // The target (with creds) unknown at preview: the config's rules still run.
    const run = await runRule(noUnapprovedReplacement(ctx), { type: TYPES.stream, name: "stream-PATTERNS-hub", props: withUnknown({ ...news, storage: "memory" }, "target") });
    expect(run.violations).toHaveLength(1);
    expect(run.violations[0]).toMatch(/'stream-PATTERNS-hub' .* would be replaced \(storage cannot change/);
  });

  it("reads a `pulumi stack export` document", () => {
    const m = stateByUrn({ version: 3, deployment: { resources: [{ urn: "u1", type: "t" }] } });
    expect([...m.keys()]).toEqual(["u1"]);
    expect(stateByUrn({ version: 3, deployment: {} }).size).toBe(0);
  });
});

describe("replicas-within-domain", () => {
  const hub = { servers: ["nats://a:4223", "nats://b:4223", "nats://c:4223"], domain: "hub" };
  it.each([
    [TYPES.stream, { num_replicas: 3, target: hub }, 0],
    [TYPES.stream, { num_replicas: 5, target: hub }, 1],
    [TYPES.kv, { replicas: 3, target: { servers: ["nats://a:4222"], domain: "nats-1" } }, 1],
    [TYPES.objectStore, { replicas: 1, target: { servers: ["nats://a:4222"], domain: "nats-1" } }, 0],
    [TYPES.consumer, { num_replicas: 4, target: hub }, 1],
  ])("%s %j: %i violations", async (type, props, n) => {
    const run = await runRule(replicasWithinDomain(context()), { type, name: "x", props });
    expect(run.violations).toHaveLength(n);
    if (n) expect(run.violations[0]).toMatch(/asks for \d replicas but JetStream domain '.*' has \d servers?: .* Fix: replicas: \d or fewer/);
  });
  it("bounds by the topology's largest domain while the target is unknown", async () => {
    const run = await runRule(replicasWithinDomain(context({ largestDomain: () => 3 })), { type: TYPES.consumer, name: "c", props: withUnknown({ num_replicas: 5 }, "target") });
    expect(run.violations[0]).toContain("the largest JetStream domain of cim-nats:topology (its hub) has 3 servers");
    expect(largestDomainOf(readStackConfig("dev").topology)).toBe(3);
  });
});

describe("no-shared-inbox-grants", () => {
  it.each([
    ["_INBOX.>", true],
    ["_INBOX.*", true],
    [">", true],
    ["*.>", true],
    ["*.*", true],
    ["_INBOX_person-service.>", false],
    ["person.events.>", false],
    ["*.events.>", false],
  ])("%s grants the shared inbox: %s", (subject, expected) => expect(grantsSharedInbox(subject)).toBe(expected));

  it("flags a user JWT's publish or subscribe allow, naming the user and the fix", async () => {
    const claims = { pub: { allow: ["_INBOX.>", "audit.>"] }, sub: { allow: ["_INBOX_audit-tap.>"] }, subs: -1 };
    const run = await runRule(noSharedInboxGrants, { type: TYPES.issuedJwt, name: "security-user-audit-tap-jwt", props: { kind: "user", name: "audit-tap", claims } });
    expect(run.violations).toEqual([expect.stringMatching(/^user 'audit-tap' .* is allowed to publish '_INBOX.>'.* Fix: remove it from cim-nats:security users\[name=audit-tap\]\.publish\.allow/)]);
    const account = await runRule(noSharedInboxGrants, { type: TYPES.issuedJwt, name: "security-account-PLATFORM-jwt", props: { kind: "account", name: "PLATFORM", claims: {} } });
    expect(account.violations).toEqual([]);
  });
});
