/**
 * What the committed prod stack (Pulumi.prod.yaml) plans, as the prod preview tests name it: its
 * hosts and addresses, each host's deploy resources and secret copies (docs/prod.md), and readers
 * of a `pulumi preview --json` (prod-project.ts) that keep only containers and deploy commands.
 */
import { nameOf, type Preview } from "./prod-project";

export const HOSTS = ["nats-1", "nats-2", "nats-3", "cimstor"] as const;
export const ADDRESS: Readonly<Record<string, string>> = { "nats-1": "10.0.0.41", "nats-2": "10.0.0.42", "nats-3": "10.0.0.43", cimstor: "172.16.0.2", "leaf-04": "10.0.0.44" };
/** The hosts that also run a hub member (`<host>-hub`); cimstor and an added leaf-04 run a leaf only. */
export const HUB_HOSTS = ["nats-1", "nats-2", "nats-3"];
/** cimstor also runs the CID service. */
export const CID_HOST = "cimstor";
export const CONTAINER = "proxmoxve:index/containerLegacy:ContainerLegacy";

/** TLS: each server's certificate, key and CA, and a hub member's route authorization (0600 secrets). */
export const tlsFiles = (host: string): string[] => [
  ...["ca.pem", "cert.pem", "key.pem"].map((f) => `${host}-${f}`),
  ...(HUB_HOSTS.includes(host) ? ["ca.pem", "cert.pem", "cluster-auth.conf", "key.pem"].map((f) => `${host}-hub-${f}`) : []),
];

/** Every nats-server of a host (prod: a leaf per host, a hub member on nats-1..3). */
export const serversOf = (host: string): string[] => (HUB_HOSTS.includes(host) ? [host, `${host}-hub`] : [host]);

/** The secret files copied to a host: its creds (application and system link) and its servers' TLS files (docs/prod.md, "File copies per host"). */
export function secretCopies(host: string): string[] {
  return [...[...(host === CID_HOST ? ["cid-service"] : []), `leaf-${host}`, `leaf-${host}-sys`].map((u) => `${u}.creds`), ...tlsFiles(host)].map(
    (f) => `deploy-${host}-copy-var-lib-cim-nats-secrets-${f}`,
  );
}

/** The deploy's resources for a host on the host: stage, one copy per secret, switch. */
export function hostResources(host: string): string[] {
  return [`deploy-${host}-stage`, ...secretCopies(host), `deploy-${host}-switch`];
}

/** Everything a host's deployment declares: the read of its container's host key on its node, its build here, then stage, copies, switch. */
export function machineResources(host: string): string[] {
  return [`deploy-${host}-hostkey`, `deploy-${host}-build`, ...hostResources(host)];
}

/** Resource name → planned op, for containers and deploy commands (`preview --json` lists no `same` step). */
export function machineOps(p: Preview): Record<string, string> {
  return Object.fromEntries(
    p.steps.filter((s) => s.urn.includes(`$${CONTAINER}::`) || s.urn.includes("$command:")).map((s) => [nameOf(s.urn), s.op]),
  );
}

/** Only what is not `same`. */
export function changed(ops: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(ops).filter(([, op]) => op !== "same"));
}

export function errors(p: Preview): string[] {
  return p.diagnostics.filter((d) => d.severity === "error").map((d) => d.message.trim());
}
