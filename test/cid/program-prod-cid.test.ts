/**
 * The prod program (components/stack/program.ts) under Pulumi's mocks with Pulumi.prod.yaml plus
 * the dev stack's CID service declaration (its `cid-service` user and `cim-nats:cidService`):
 * the same definition lands on the cimstor container as NixOS files — the unit module, the
 * bundled program, the enabling file imported by configuration.nix, and the user's creds 0600 as
 * a secret — and on no other host.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { load } from "js-yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { CID_SERVICE_IMPORT } from "../../components/cid/prod";
import { ENTRY_POINT, entryPointWith } from "../../components/deploy/nixos-files";
import { issuedJwtProvider } from "../../components/security/jwt";
import { nkeyProvider } from "../../components/security/nkey";
import { generateOpenSshKey } from "../proxmox/ssh-key";
import { PROJECT_ROOT, readStackConfig } from "../support/stack-config";

type Registered = { type: string; name: string; inputs: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
const registered: Registered[] = [];
let outputs: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const plain = (v: any): any => (v && typeof v === "object" && "4dabf18193072939515e22adb298388d" in v ? v.value : v); // eslint-disable-line @typescript-eslint/no-explicit-any

beforeAll(async () => {
  // Pulumi.prod.yaml declares the CID service (user and section) as the dev stack does.
  const prod = readStackConfig("prod");
  const prodDoc = load(readFileSync(join(PROJECT_ROOT, "Pulumi.prod.yaml"), "utf8")) as { config: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  const security = prod.security;
  const key = generateOpenSshKey();
  pulumi.runtime.setAllConfig(
    {
      "cim-nats:substrate": "proxmox",
      "cim-nats:topology": JSON.stringify(prod.topology),
      "cim-nats:jetstream": JSON.stringify(prod.jetstream),
      "cim-nats:security": JSON.stringify(security),
      "cim-nats:cidService": JSON.stringify(prodDoc.config["cim-nats:cidService"]),
      "cim-nats:proxmox": JSON.stringify(prod.proxmox),
      "cim-nats:proxmoxApiToken": "root@pam!pulumi=00000000-0000-0000-0000-000000000000",
      "cim-nats:sshPrivateKey": key.privateKey,
    },
    ["cim-nats:proxmoxApiToken", "cim-nats:sshPrivateKey"],
  );
  await pulumi.runtime.setMocks(
    {
      newResource: async (args) => {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        if (args.type.endsWith(":NKey")) {
          const { id, outs } = await nkeyProvider.create(args.inputs as any); // eslint-disable-line @typescript-eslint/no-explicit-any
          return { id, state: outs };
        }
        if (args.type.endsWith(":IssuedJwt")) {
          const ins = Object.fromEntries(Object.entries(args.inputs).map(([k, v]) => [k, plain(v)]));
          const { id, outs } = await issuedJwtProvider.create(ins as any); // eslint-disable-line @typescript-eslint/no-explicit-any
          return { id, state: outs };
        }
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    "cim-nats",
    "prod",
    false,
  );
  const saved = process.env.PULUMI_CONFIG_PASSPHRASE;
  process.env.PULUMI_CONFIG_PASSPHRASE = "a-prod-passphrase";
  try {
    const { program } = await import("../../components/stack/program");
    const out = program();
    outputs = Object.fromEntries(await Promise.all(Object.entries(out).map(async ([k, v]) => [k, await new Promise((r) => pulumi.output(v as any).apply(r))]))); // eslint-disable-line @typescript-eslint/no-explicit-any
  } finally {
    if (saved === undefined) delete process.env.PULUMI_CONFIG_PASSPHRASE;
    else process.env.PULUMI_CONFIG_PASSPHRASE = saved;
  }
  // Children created inside applies register later: wait until the program's RPC queue drains.
  await pulumi.runtime.disconnect();
}, 60_000);

const copiesFor = (host: string) => registered.filter((r) => r.type.endsWith(":CopyToRemote") && r.name.includes(`-${host}-`));

describe("the CID service in the prod program", () => {
  it("cimstor gets the unit module, the bundle, the enabling file and the creds; configuration.nix imports it", () => {
    const names = copiesFor("cimstor").map((c) => c.inputs.remotePath.split("/").pop()).sort();
    expect(names).toEqual(
      expect.arrayContaining([
        "etc-nixos-cim-nats-modules-cim-cid-service.nix",
        "etc-nixos-cim-nats-cid-service.js",
        "etc-nixos-cim-nats-cid-service.nix",
        "var-lib-cim-nats-secrets-cid-service.creds",
      ]),
    );
    const script = JSON.stringify(registered.filter((r) => r.type.endsWith(":Command") && r.name.includes("cimstor") && r.name.endsWith("-switch")).map((r) => r.inputs));
    expect(script).toContain("install -D -m 0600 /var/lib/cim-nats/.deploy/var-lib-cim-nats-secrets-cid-service.creds /var/lib/cim-nats/secrets/cid-service.creds");
    expect(script).toContain("/etc/nixos/cim-nats/cid-service.nix");
    // configuration.nix (an asset here) imports it: the same function renders it.
    expect(entryPointWith([CID_SERVICE_IMPORT])).toContain("    ./cim-nats/access.nix\n    ./cim-nats/cid-service.nix\n  ];");
    expect(entryPointWith([])).toBe(ENTRY_POINT);
  });

  it("no other host gets any of it", () => {
    for (const h of ["nats-1", "nats-2", "nats-3"]) {
      expect(copiesFor(h).map((c) => c.inputs.remotePath).join(" ")).not.toContain("cid-service");
    }
  });

  it("exports where it answers, with the prod address", () => {
    expect(outputs.cidService).toMatchObject({ leaf: "cimstor", clientUrl: "nats://172.16.0.2:4222", healthUrl: "http://172.16.0.2:8290/healthz", user: "cid-service" });
    expect(outputs.creds["cid-service"]).toMatch(/BEGIN NATS USER JWT/);
  });
});
