/**
 * Shared by the reload tests (test/render/reload-rules.test.ts, test/local/rolling-*.test.ts): a
 * small topology on the caller's loopback block (127.0.2x.*, which only these tests use) in
 * operator mode, with users whose account JWT can be re-issued with revocations — what removing
 * a user does to the resolver preload.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createAccount, createOperator, createUser, encodeAccount, encodeOperator, encodeUser, fmtCreds } from "@nats-io/jwt";
import type { LeafLinks, ServerSecurity } from "../../components/render/server-security";
import { parseTopology } from "../../components/topology/parse";
import type { Topology } from "../../components/topology/types";

export type TopologyShape = {
  /** Three octets, e.g. "127.0.21". */
  readonly prefix: string;
  /** Hosts with the hub role (each also a leaf when `leaves` includes it), e.g. 3. */
  readonly hubs: number;
  /** Lame duck grace period seconds (the duration is nats-server's minimum, 30 s). Default 0.5. */
  readonly lameDuckGraceSeconds?: number;
  readonly hubMaxFile?: string;
  readonly leafDenyImports?: readonly string[];
};

/** A temp dir under os.tmpdir(), realpath'd (the local server checks normalized absolute paths). */
export function tempDir(prefix: string): string {
  return fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
}

/** h1..hN on `<prefix>.1..N`, each leaf + hub; stores under `dataDir`. */
export function smallTopology(shape: TopologyShape, dataDir: string): Topology {
  const hosts = Array.from({ length: shape.hubs }, (_, i) => ({
    name: `h${i + 1}`,
    vmid: 900 + i,
    node: "pve1",
    address: `${shape.prefix}.${i + 1}`,
    roles: ["leaf", "hub"],
  }));
  return parseTopology(
    {
      dataDir,
      lameDuck: { durationSeconds: 30, gracePeriodSeconds: shape.lameDuckGraceSeconds ?? 0.5 },
      hub: { replicas: Math.min(3, shape.hubs), jetstream: { maxMemory: "64M", maxFile: shape.hubMaxFile ?? "1G" } },
      leaf: { jetstream: { maxMemory: "64M", maxFile: "1G" } },
      hosts,
    },
    { name: "reload", leafDenyImports: shape.leafDenyImports ?? ["person.events.>"] },
  );
}

/** Operator-mode keys: SYS, one JetStream account, leaf-link users, and named users that can be revoked. */
export type ReloadSecurity = {
  readonly operatorJwt: string;
  readonly systemAccount: string;
  readonly appAccount: string;
  readonly sysJwt: string;
  /** The app account JWT with `revoked` users' keys revoked (as of now). */
  appJwt(revoked?: readonly string[]): Promise<string>;
  /** ServerSecurity with the given app account JWT; leaf-link creds at `<credsDir>/leaf-<server>.creds`. */
  serverSecurity(appJwt: string): ServerSecurity;
  /** Creds text of a named user (created on first use). */
  creds(user: string): Promise<string>;
  /** Public key of a named user (created on first use). */
  userKey(user: string): Promise<string>;
  /** Creds text of a user in the system account (for $JS.API.META.*, $SYS requests). */
  systemCreds(user: string): Promise<string>;
  /** Leaf-link creds files: relative path → text. */
  readonly leafLinkFiles: Readonly<Record<string, string>>;
};

export async function reloadSecurity(topology: Topology, credsDir: string): Promise<ReloadSecurity> {
  const operator = createOperator();
  const sys = createAccount();
  const app = createAccount();
  const sysPub = sys.getPublicKey();
  const appPub = app.getPublicKey();
  const operatorJwt = await encodeOperator("RELOAD_OPERATOR", operator, { system_account: sysPub });
  const sysJwt = await encodeAccount(
    "SYS",
    sys,
    { limits: { subs: -1, data: -1, payload: -1, conn: -1, leaf: -1, imports: -1, exports: -1, wildcards: true } },
    { signer: operator },
  );
  const users = new Map<string, { creds: string; key: string }>();
  const user = async (name: string) => {
    let u = users.get(name);
    if (!u) {
      const kp = createUser();
      const jwt = await encodeUser(name, kp, app);
      u = { creds: new TextDecoder().decode(fmtCreds(jwt, kp)), key: kp.getPublicKey() };
      users.set(name, u);
    }
    return u;
  };
  const leafLinkFiles: Record<string, string> = {};
  const leafLinks: Record<string, LeafLinks> = {};
  for (const leaf of topology.leaves) {
    const kp = createUser();
    leafLinkFiles[`leaf-${leaf.serverName}.creds`] = (await user(`leaf-${leaf.serverName}`)).creds;
    leafLinkFiles[`leaf-${leaf.serverName}-sys.creds`] = new TextDecoder().decode(fmtCreds(await encodeUser(`leaf-${leaf.serverName}-sys`, kp, sys), kp));
    leafLinks[leaf.serverName] = {
      application: { credentialsPath: path.join(credsDir, `leaf-${leaf.serverName}.creds`), account: appPub },
      system: { credentialsPath: path.join(credsDir, `leaf-${leaf.serverName}-sys.creds`), account: sysPub },
    };
  }
  const appJwt = async (revoked: readonly string[] = []) => {
    const now = Math.floor(Date.now() / 1000) + 1;
    const revocations: Record<string, number> = {};
    for (const name of revoked) revocations[(await user(name)).key] = now;
    return encodeAccount(
      "PLATFORM",
      app,
      {
        limits: { subs: -1, data: -1, payload: -1, conn: -1, leaf: -1, imports: -1, exports: -1, wildcards: true, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
        ...(revoked.length > 0 ? { revocations } : {}),
      },
      { signer: operator },
    );
  };
  return {
    operatorJwt,
    systemAccount: sysPub,
    appAccount: appPub,
    sysJwt,
    appJwt,
    // The app JWT rides in the preload: a newer one replaces the resolver's copy at the reload.
    serverSecurity: (jwt) => ({ operatorJwt, systemAccount: sysPub, bootstrapJwts: { [sysPub]: sysJwt, [appPub]: jwt }, leafLinks }),
    creds: async (name) => (await user(name)).creds,
    userKey: async (name) => (await user(name)).key,
    systemCreds: async (name) => {
      const kp = createUser();
      return new TextDecoder().decode(fmtCreds(await encodeUser(name, kp, sys), kp));
    },
    leafLinkFiles,
  };
}
