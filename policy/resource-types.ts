/** Type tokens of the resources the cim-nats program registers (components/stack, proxmox, deploy, local, security, jetstream). */
export const TYPES = {
  /** @muhlba91/pulumi-proxmoxve v8 (`ct.ContainerLegacy`). */
  container: "proxmoxve:index/containerLegacy:ContainerLegacy",
  /** The same container under v7's name (`ct.Container`), should the SDK pin go back. */
  containerV7: "proxmoxve:CT/container:Container",
  copyToRemote: "command:remote:CopyToRemote",
  /** A host's build (components/deploy): carries its public NixOS files, host.nix among them. */
  localCommand: "command:local:Command",
  localServer: "pulumi-nodejs:dynamic/cim-nats:LocalNatsServer",
  issuedJwt: "pulumi-nodejs:dynamic/cim-nats:IssuedJwt",
  stream: "pulumi-nodejs:dynamic/jetstream:Stream",
  kv: "pulumi-nodejs:dynamic/jetstream:KvBucket",
  objectStore: "pulumi-nodejs:dynamic/jetstream:ObjectStore",
  consumer: "pulumi-nodejs:dynamic/jetstream:Consumer",
} as const;

export const CONTAINER_TYPES: readonly string[] = [TYPES.container, TYPES.containerV7];
