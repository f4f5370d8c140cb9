/**
 * Runs the whole prod program (components/stack/program.ts) under Pulumi's mocks on every
 * `cim-nats:*` key of Pulumi.prod.yaml, with a placeholder token (the deploy key is in the SSH agent, not the config): what `pulumi up -s prod` would
 * declare. NKeys, JWTs, the TLS CA, certificates and route password are made by their real
 * provider functions inside the mock, so creds, certificates and rendered configs are real. One run per test file (each file is its own worker).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { load } from "js-yaml";
import { issuedJwtProvider } from "../../components/security/jwt";
import { nkeyProvider } from "../../components/security/nkey";
import { createRoutePassword, createServerCert, createTlsCa } from "../../components/tls/tls-crud";
import { PROJECT_ROOT } from "../support/stack-config";

export type Registered = { type: string; name: string; inputs: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Unwraps Pulumi's secret envelope as the mock monitor sees it. */
export const plain = (v: any): any => (v && typeof v === "object" && "4dabf18193072939515e22adb298388d" in v ? v.value : v); // eslint-disable-line @typescript-eslint/no-explicit-any

/** What every container's host key read prints under the mocks. */
export const MOCK_CONTAINER_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKMGwCj9hlKhSiEbGGa6LAIXyFvC9YhJ0ptMvHaYXKwe";

export async function runProdProgram(): Promise<{ registered: Registered[]; outputs: Record<string, any> }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const doc = load(readFileSync(join(PROJECT_ROOT, "Pulumi.prod.yaml"), "utf8")) as { config: Record<string, unknown> };
  const config = Object.fromEntries(
    Object.entries(doc.config)
      .filter(([k, v]) => k.startsWith("cim-nats:") && !(v && typeof v === "object" && "secure" in v))
      .map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
  );
  // As Pulumi.prod.yaml logs in: through the SSH agent, no key in the config.
  pulumi.runtime.setAllConfig(
    {
      ...config,
      "cim-nats:substrate": "proxmox",
      "cim-nats:proxmoxApiToken": "root@pam!pulumi=00000000-0000-0000-0000-000000000000",
    },
    ["cim-nats:proxmoxApiToken"],
  );
  const registered: Registered[] = [];
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
        // A container's host key, as the read on its node prints it (container-host-key.ts).
        if (args.type === "command:remote:Command" && args.name.endsWith("-hostkey")) {
          return { id: `${args.name}-id`, state: { ...args.inputs, stdout: `${MOCK_CONTAINER_HOST_KEY} root@${args.name}` } };
        }
        // A host's build prints its system's store path.
        if (args.type === "command:local:Command" && args.name.endsWith("-build")) {
          return { id: `${args.name}-id`, state: { ...args.inputs, stdout: `/nix/store/00000000000000000000000000000000-nixos-system-${args.name}\n` } };
        }
        // The TLS resources (components/tls): the real CA, certificates and route password.
        const tlsCreate: Record<string, (ins: any) => Promise<{ id: string; outs: object }>> = { // eslint-disable-line @typescript-eslint/no-explicit-any
          "pulumi-nodejs:dynamic/cim-nats:TlsCa": createTlsCa,
          "pulumi-nodejs:dynamic/cim-nats:ServerCert": createServerCert,
          "pulumi-nodejs:dynamic/cim-nats:RoutePassword": createRoutePassword,
        };
        const create = tlsCreate[args.type];
        if (create) {
          const ins = Object.fromEntries(Object.entries(args.inputs).map(([k, v]) => [k, plain(v)]));
          const { id, outs } = await create(ins);
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
  // with-env.sh's backend is a file in this checkout, which the prod program refuses (state-backend.ts).
  const savedAllow = process.env.CIM_NATS_ALLOW_LOCAL_STATE;
  process.env.CIM_NATS_ALLOW_LOCAL_STATE = "1";
  let outputs: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    const { program } = await import("../../components/stack/program");
    const out = program();
    outputs = Object.fromEntries(await Promise.all(Object.entries(out).map(async ([k, v]) => [k, await new Promise((r) => pulumi.output(v as any).apply(r))]))); // eslint-disable-line @typescript-eslint/no-explicit-any
  } finally {
    if (saved === undefined) delete process.env.PULUMI_CONFIG_PASSPHRASE;
    else process.env.PULUMI_CONFIG_PASSPHRASE = saved;
    if (savedAllow === undefined) delete process.env.CIM_NATS_ALLOW_LOCAL_STATE;
    else process.env.CIM_NATS_ALLOW_LOCAL_STATE = savedAllow;
  }
  // Children created inside applies register later: wait until the program's RPC queue drains.
  await pulumi.runtime.disconnect();
  return { registered, outputs };
}
