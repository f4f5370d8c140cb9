/**
 * The prod program (components/stack/program.ts) under Pulumi's mocks with Pulumi.prod.yaml, which
 * declares the CID service as the dev stack does (its `cid-service` user and `cim-nats:cidService`):
 * the same definition goes into cimstor's system as NixOS files — the unit module, the bundled
 * program, the enabling file imported by configuration.nix — and the user's creds go to the
 * container, 0600, as a secret; none of it to any other host.
 */
import { embeddedFiles } from "../../components/deploy/build-script";
import { beforeAll, describe, expect, it } from "vitest";
import { plain, runProdProgram, type Registered } from "../stack/prod-program";
import { CID_SERVICE_IMPORT } from "../../components/cid/prod";
import { ENTRY_POINT, entryPointWith } from "../../components/deploy/nixos-files";

let registered: Registered[] = [];
let outputs: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

beforeAll(async () => {
  ({ registered, outputs } = await runProdProgram());
}, 60_000);

const copiesFor = (host: string) => registered.filter((r) => r.type.endsWith(":CopyToRemote") && r.name.includes(`-${host}-`));

describe("the CID service in the prod program", () => {
  it("cimstor's system is built with the unit module, the bundle and the enabling file, and gets the creds; configuration.nix imports it", () => {
    const built = (h: string) => embeddedFiles(plain(registered.find((r) => r.name === `deploy-${h}-build`)!.inputs.stdin));
    expect(Object.keys(built("cimstor"))).toEqual(
      expect.arrayContaining(["/etc/nixos/cim-nats/modules/cim-cid-service.nix", "/etc/nixos/cim-nats/cid-service.js", "/etc/nixos/cim-nats/cid-service.nix"]),
    );
    expect(built("cimstor")["/etc/nixos/configuration.nix"]).toBe(entryPointWith([CID_SERVICE_IMPORT]));
    expect(copiesFor("cimstor").map((c) => c.inputs.remotePath.split("/").pop())).toContain("var-lib-cim-nats-secrets-cid-service.creds");
    const script = JSON.stringify(registered.filter((r) => r.type.endsWith(":Command") && r.name.includes("cimstor") && r.name.endsWith("-switch")).map((r) => r.inputs));
    expect(script).toContain("install -D -m 0600 /var/lib/cim-nats/.deploy/var-lib-cim-nats-secrets-cid-service.creds /var/lib/cim-nats/secrets/cid-service.creds");
    expect(entryPointWith([CID_SERVICE_IMPORT])).toContain("    ./cim-nats/secret-hashes.nix\n    ./cim-nats/cid-service.nix\n  ];");
    expect(entryPointWith([])).toBe(ENTRY_POINT);
  });

  it("no other host gets any of it", () => {
    for (const h of ["nats-1", "nats-2", "nats-3"]) {
      expect(copiesFor(h).map((c) => c.inputs.remotePath).join(" ")).not.toContain("cid-service");
      expect(JSON.stringify(plain(registered.find((r) => r.name === `deploy-${h}-build`)!.inputs.stdin))).not.toContain("cid-service");
    }
  });

  it("exports where it answers, with the prod address", () => {
    expect(outputs.cidService).toMatchObject({ leaf: "cimstor", clientUrl: "nats://172.16.0.2:4222", healthUrl: "http://172.16.0.2:8290/healthz", user: "cid-service" });
    expect(outputs.creds["cid-service"]).toMatch(/BEGIN NATS USER JWT/);
  });
});
