/**
 * The validated Proxmox settings of a stack (`cim-nats:proxmox` plus the secret config values
 * `cim-nats:proxmoxApiToken` and `cim-nats:sshPrivateKey`). Produced only by `parseProxmox`
 * (parse.ts). Plain readonly data: no I/O, no Pulumi. The two secret fields hold plaintext in
 * memory only; the Pulumi edge wraps them in `pulumi.secret` before any resource sees them.
 */
import type { NixosSystemSpec } from "../deploy/nixos-system";

/** Where a node's NixOS LXC template comes from. `local` storage is per node, so one per node. */
export type TemplateSource =
  /** An existing template on the node: `<storage>:vztmpl/<file>` (as `pvesm list` shows it). */
  | { readonly kind: "file"; readonly fileId: string }
  /** A template the stack downloads onto the node (`proxmoxve.download.File`, content type `vztmpl`). */
  | {
      readonly kind: "download";
      /** http(s) URL of the `.tar.xz` template. */
      readonly url: string;
      /** File name on the datastore. Default: the URL's last path segment. */
      readonly fileName: string;
      /** Datastore holding templates. Default "local". */
      readonly datastore: string;
      /** Expected checksum, verified by Proxmox after download. */
      readonly checksum?: string;
      /** `md5` | `sha1` | `sha224` | `sha256` | `sha384` | `sha512`. Required with `checksum`. */
      readonly checksumAlgorithm?: string;
    };

/** One named network a host's address lives on (`networks.<name>` in config). */
export type ProxmoxNetwork = {
  readonly name: string;
  /** IPv4 subnet, e.g. "10.0.0.0/24". */
  readonly cidr: string;
  /** Prefix length of `cidr` (24): the container's address is written `<address>/<prefix>`. */
  readonly prefixLength: number;
  /** Default gateway, inside `cidr`. */
  readonly gateway: string;
  /** Proxmox bridge the container's eth0 attaches to, e.g. "vmbr0". */
  readonly bridge: string;
  /** DNS servers. Default: none (the template's resolver). */
  readonly dns: readonly string[];
};

/** A Proxmox node's SSH address, for nodes whose API-reported address is not reachable. */
export type ProxmoxSshNode = {
  readonly name: string;
  readonly address: string;
  readonly port?: number;
  /** The node's SSH host public key (`<type> <base64>`); pins the node when the deploy reads container host keys. */
  readonly hostKey?: string;
};

/** SSH settings: the provider's connection to the Proxmox nodes and the deploy's to containers. */
export type ProxmoxSsh = {
  /** User on the Proxmox nodes (the provider needs SSH for some container settings). Default "root". */
  readonly username: string;
  /** Use the local SSH agent instead of a key. Default false. */
  readonly agent: boolean;
  /** Private key (from the secret `cim-nats:sshPrivateKey`); undefined only with `agent`. */
  readonly privateKey?: string;
  /**
   * Public keys installed as root's authorized keys in every container, so the deploy can log in.
   * Default: the public half of `privateKey` (derived when it is in OpenSSH format).
   */
  readonly authorizedKeys: readonly string[];
  /** User the deploy logs into containers as. Default "root" (NixOS rebuilds need it). */
  readonly containerUser: string;
  /** SSH port of the containers. Default 22. */
  readonly containerPort: number;
  /** Explicit node addresses for the provider. Default: none (resolved through the API). */
  readonly nodes: readonly ProxmoxSshNode[];
  /**
   * Pin every container's SSH host key (read on its node, container-host-key.ts) on every deploy
   * connection. Default true; then every node hosting a container needs `nodes[].hostKey`.
   * false: the deploy trusts the network between it and the containers (the leaf-link creds
   * travel over those connections).
   */
  readonly verifyHostKeys: boolean;
};

/** Everything the Proxmox substrate needs, validated against the topology. */
export type ProxmoxSpec = {
  /** API endpoint, e.g. "https://10.0.0.11:8006/". */
  readonly endpoint: string;
  /** API token `USER@REALM!TOKENID=SECRET` (secret). */
  readonly apiToken: string;
  /** Skip TLS verification of the API. Default false. */
  readonly insecure: boolean;
  /** The cluster's node names. */
  readonly nodes: readonly string[];
  /** Template per node; present for every node that hosts a container. */
  readonly templates: Readonly<Record<string, TemplateSource>>;
  /** Storage for root disks and data volumes, e.g. "local-lvm". */
  readonly datastore: string;
  /** Named networks; every host's `network` is one of them. */
  readonly networks: Readonly<Record<string, ProxmoxNetwork>>;
  readonly ssh: ProxmoxSsh;
  /**
   * Where the data volume is mounted in each container. Every JetStream store dir must be under
   * it, or streams would fill the root disk. Default "/var/lib/cim-nats".
   */
  readonly dataMountPath: string;
  /**
   * Guard the containers against deletion: Pulumi's `protect` (a `destroy` or a removed host
   * fails until it is lifted) and Proxmox's own `protection` flag (the API refuses to remove the
   * container or its disks, whoever asks). A leaf's data volume holds the only copy of its R1
   * streams. Default true; set `cim-nats:proxmox.protect: false` before deliberately removing a
   * host (docs/prod.md).
   */
  readonly protect: boolean;
  /**
   * Hosts whose containers were made before the stack and taken over (`pulumi import`,
   * docs/adopt.md). Their replace-only inputs (CONTAINER_FORCE_NEW: node, vmid, template,
   * unprivileged, root disk storage, data volume…) are ignored for good, so the stack never
   * replaces a container it did not create; the rest is updated in place. Default none.
   */
  readonly adopt: readonly string[];
  /** The containers' nixpkgs pin and Nix garbage collection (`nixos`). Defaults: DEFAULT_NIXOS_SYSTEM. */
  readonly nixos: NixosSystemSpec;
};

/** The secret config values parseProxmox reads (plaintext here; secret everywhere else). */
export type ProxmoxSecrets = {
  /** `cim-nats:proxmoxApiToken`. */
  readonly apiToken?: string;
  /** `cim-nats:sshPrivateKey`. */
  readonly sshPrivateKey?: string;
};

export const DEFAULT_DATA_MOUNT_PATH = "/var/lib/cim-nats";
export const DEFAULT_TEMPLATE_DATASTORE = "local";
export const CHECKSUM_ALGORITHMS = ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"] as const;
