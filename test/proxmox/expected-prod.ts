/**
 * The prod stack's containers, written out literally: what the tests hold both the pure
 * `containerArgs` and the registered Pulumi resources to. One place to read what prod deploys.
 */
const TEMPLATE = "local:vztmpl/nixos-25.11-x86_64-linux.tar.xz";

type Row = {
  host: string;
  vmId: number;
  node: string;
  servers: string;
  tags: string[];
  memory: number;
  dataGiB: number;
  bridge: string;
  address: string;
  gateway: string;
};

const ROWS: Row[] = [
  { host: "nats-1", vmId: 201, node: "pve1", servers: "nats-1, nats-1-hub", tags: ["cim-nats", "hub", "leaf", "prod"], memory: 4096, dataGiB: 64, bridge: "vmbr0", address: "10.0.0.41/24", gateway: "10.0.0.1" },
  { host: "nats-2", vmId: 202, node: "pve2", servers: "nats-2, nats-2-hub", tags: ["cim-nats", "hub", "leaf", "prod"], memory: 4096, dataGiB: 64, bridge: "vmbr0", address: "10.0.0.42/24", gateway: "10.0.0.1" },
  { host: "nats-3", vmId: 203, node: "pve3", servers: "nats-3, nats-3-hub", tags: ["cim-nats", "hub", "leaf", "prod"], memory: 4096, dataGiB: 64, bridge: "vmbr0", address: "10.0.0.43/24", gateway: "10.0.0.1" },
  { host: "cimstor", vmId: 204, node: "pve1", servers: "cimstor", tags: ["cim-nats", "leaf", "prod", "storage"], memory: 4096, dataGiB: 500, bridge: "vmbr1", address: "172.16.0.2/24", gateway: "172.16.0.1" },
];

/** Host → exact container inputs, given the deploy key's authorized_keys line. */
export function expectedProdContainers(authorizedKey: string): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    ROWS.map((r) => [
      r.host,
      {
        nodeName: r.node,
        vmId: r.vmId,
        description: `cim-nats prod: ${r.servers} (managed by Pulumi)`,
        tags: r.tags,
        unprivileged: true,
        features: { nesting: true },
        operatingSystem: { templateFileId: TEMPLATE, type: "nixos" },
        cpu: { cores: 2 },
        memory: { dedicated: r.memory, swap: 512 },
        disk: { datastoreId: "local-lvm", size: 16 },
        mountPoints: [{ volume: "local-lvm", size: `${r.dataGiB}G`, path: "/var/lib/cim-nats", backup: true }],
        networkInterfaces: [{ name: "eth0", bridge: r.bridge }],
        initialization: {
          hostname: r.host,
          ipConfigs: [{ ipv4: { address: r.address, gateway: r.gateway } }],
          dns: { servers: ["10.0.0.1"] },
          userAccount: { keys: [authorizedKey] },
        },
        startOnBoot: true,
        started: true,
        protection: true,
      },
    ]),
  );
}
