/**
 * The stack's TLS as Pulumi resources: one CA (`cim-nats:TlsCa`), one certificate per server
 * (`cim-nats:ServerCert`, SANs from the topology) and the hub's route password
 * (`cim-nats:RoutePassword`). Keys and the password are secret outputs; the CA certificate is
 * public (clients need it). The providers load tls-crud.ts at call time (small closures, see
 * components/provider/provider-loader.ts), so state stays portable.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { dynamicProvider } from "../provider/provider-loader";
import type { Topology } from "../topology/types";
import { serverCertNames } from "./names";
import type { TlsSpec } from "./types";

const CRUD = path.join(__dirname, `tls-crud${path.extname(__filename)}`);
const shared = { check: "checkTls", read: "readTls", delete: "deleteTls" };
const caProvider = dynamicProvider(CRUD, { ...shared, create: "createTlsCa", diff: "diffTlsCa", update: "updateTlsCa" });
const certProvider = dynamicProvider(CRUD, { ...shared, create: "createServerCert", diff: "diffServerCert", update: "updateServerCert" });
const passwordProvider = dynamicProvider(CRUD, { ...shared, create: "createRoutePassword", diff: "diffRoutePassword", update: "updateKeep" });

export class TlsCa extends pulumi.dynamic.Resource {
  declare public readonly certPem: pulumi.Output<string>;
  declare public readonly keyPem: pulumi.Output<string>;
  declare public readonly notAfter: pulumi.Output<string>;
  constructor(
    name: string,
    args: { mode: "generated" | "provided"; commonName: string; days: number; providedCertPem?: pulumi.Input<string>; providedKeyPem?: pulumi.Input<string> },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      caProvider,
      name,
      { ...args, providedKeyPem: args.providedKeyPem === undefined ? undefined : pulumi.secret(args.providedKeyPem), certPem: undefined, keyPem: undefined, notAfter: undefined },
      { ...opts, additionalSecretOutputs: ["keyPem", "providedKeyPem"] },
      "cim-nats",
      "TlsCa",
    );
  }
}

export class ServerCert extends pulumi.dynamic.Resource {
  declare public readonly certPem: pulumi.Output<string>;
  declare public readonly keyPem: pulumi.Output<string>;
  declare public readonly notAfter: pulumi.Output<string>;
  constructor(
    name: string,
    args: { caCertPem: pulumi.Input<string>; caKeyPem: pulumi.Input<string>; names: ReturnType<typeof serverCertNames>; days: number; renewBeforeDays: number },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      certProvider,
      name,
      { ...args, caKeyPem: pulumi.secret(args.caKeyPem), certPem: undefined, keyPem: undefined, notAfter: undefined },
      { ...opts, additionalSecretOutputs: ["keyPem", "caKeyPem"] },
      "cim-nats",
      "ServerCert",
    );
  }
}

export class RoutePassword extends pulumi.dynamic.Resource {
  declare public readonly password: pulumi.Output<string>;
  constructor(name: string, opts?: pulumi.CustomResourceOptions) {
    super(passwordProvider, name, { password: undefined }, { ...opts, additionalSecretOutputs: ["password"] }, "cim-nats", "RoutePassword");
  }
}

/** A server's certificate and key (the key secret). */
export type ServerTlsMaterial = { readonly certPem: pulumi.Output<string>; readonly keyPem: pulumi.Output<string> };

/** What the substrates and clients take from the stack's TLS. */
export type StackTls = {
  /** The CA certificate (PEM, public); undefined when TLS is off. */
  readonly caCertPem?: pulumi.Output<string>;
  /** Server name → its certificate and key; empty when TLS is off. */
  readonly servers: Readonly<Record<string, ServerTlsMaterial>>;
  /** The hub's route password (secret); present when the hub has routes (2+ members). */
  readonly routePassword?: pulumi.Output<string>;
};

/** The TLS resources of one stack, children of `parent`. */
export function declareStackTls(parent: pulumi.Resource, spec: TlsSpec, topology: Topology): StackTls {
  const opts = { parent };
  const routePassword = topology.hub.members.length > 1 ? new RoutePassword("tls-route-password", opts).password : undefined;
  if (spec.mode === "off") return { servers: {}, ...(routePassword ? { routePassword } : {}) };
  const ca = new TlsCa(
    "tls-ca",
    {
      mode: spec.mode,
      commonName: `cim-nats ${topology.name} CA`,
      days: spec.caDays,
      ...(spec.mode === "provided" ? { providedCertPem: spec.caCertPem, providedKeyPem: pulumi.secret(spec.caKeyPem) } : {}),
    },
    opts,
  );
  const caCertPem = pulumi.unsecret(ca.certPem);
  const servers: Record<string, ServerTlsMaterial> = {};
  for (const instance of [...topology.leaves, ...topology.hub.members]) {
    const cert = new ServerCert(
      `tls-cert-${instance.serverName}`,
      { caCertPem, caKeyPem: ca.keyPem, names: serverCertNames(instance), days: spec.serverDays, renewBeforeDays: spec.renewBeforeDays },
      opts,
    );
    servers[instance.serverName] = { certPem: pulumi.unsecret(cert.certPem), keyPem: cert.keyPem };
  }
  return { caCertPem, servers, ...(routePassword ? { routePassword } : {}) };
}
