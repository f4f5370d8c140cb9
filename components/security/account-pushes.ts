/**
 * One AccountJwtPush per account, declared once the servers are: each account's current JWT
 * delivered to every server of the topology through the system account (jwt-push.ts). A change
 * to one account updates that account's push only; servers' configs never change for it.
 */
import * as pulumi from "@pulumi/pulumi";
import { instanceEndpoints } from "../topology/endpoints";
import type { Topology } from "../topology/types";
import { AccountJwtPush } from "./jwt-push";
import type { NatsSecurity } from "./nats-security";
import { AccountKind, type SecuritySpec, SYSTEM_MONITOR_USER } from "./types";

/** Declares the pushes; `servers`: every server's resource (a push waits for all of them). */
export function declareAccountPushes(
  parent: pulumi.Resource,
  args: {
    readonly spec: SecuritySpec;
    readonly topology: Topology;
    readonly security: NatsSecurity;
    readonly servers: Readonly<Record<string, pulumi.Resource>>;
    readonly caCertPem?: pulumi.Input<string>;
    /** Data-account creds with the hub's JetStream API: the data account's push nudges stalled hub sources with them once the links are up. */
    readonly sourceNudgeCreds?: pulumi.Input<string>;
  },
): Record<string, AccountJwtPush> {
  const { spec, topology, security } = args;
  const servers = [...topology.leaves, ...topology.hub.members].map((i) => ({ name: i.serverName, url: instanceEndpoints(i).clientUrl }));
  // The data account last: its imports of what services serve resolve on a server only once the
  // serving accounts' JWTs are there, and its update re-checks services whose imports waited for
  // an export it adds (nats-server re-evaluates incomplete importers when an exporter changes).
  const order = [...spec.accounts.filter((a) => a.name !== spec.applicationAccount), ...spec.accounts.filter((a) => a.name === spec.applicationAccount)];
  const pushes: Record<string, AccountJwtPush> = {};
  for (const a of order) {
    const after = a.name === spec.applicationAccount ? Object.values(pushes) : [];
    pushes[a.name] = new AccountJwtPush(
      `security-account-${a.name}-push`,
      {
        account: a.name,
        accountPublicKey: security.accounts[a.name].publicKey,
        jwt: security.accounts[a.name].jwt,
        servers,
        creds: security.credsByUser[SYSTEM_MONITOR_USER],
        ...(args.caCertPem ? { caCertPem: args.caCertPem } : {}),
        // The system and data accounts live as long as the servers; others are tombstoned when removed.
        tombstone: a.kind === AccountKind.Service || a.kind === AccountKind.Plain,
        operatorSeed: security.operatorSeed,
        // The leaves' links in these accounts come up once the push lists their keys.
        ...(a.name === spec.applicationAccount || a.name === spec.systemAccount ? { linkedLeaves: topology.leaves.map((l) => l.serverName) } : {}),
        ...(a.name === spec.applicationAccount && args.sourceNudgeCreds !== undefined ? { sourceNudgeCreds: args.sourceNudgeCreds } : {}),
      },
      { parent, dependsOn: [...Object.values(args.servers), ...after] },
    );
  }
  return pushes;
}
