/**
 * A throwaway operator-mode ServerSecurity built from fresh test keys (@nats-io/nkeys +
 * @nats-io/jwt), for rendering and running operator-mode configs in tests. The real one comes
 * from components/security; this only has to be valid for nats-server.
 */
import { createAccount, createOperator, createUser, encodeAccount, encodeOperator, encodeUser, fmtCreds } from "@nats-io/jwt";
import type { LeafLinks, ServerSecurity } from "../../components/render/server-security";
import type { Topology } from "../../components/topology/types";

export type TestSecurity = {
  readonly security: ServerSecurity;
  /** Creds files by path relative to the topology dir: one leaf-link user per leaf, plus `app.creds`. */
  readonly files: Readonly<Record<string, string>>;
  /** Public key of the application account. */
  readonly appAccount: string;
};

/**
 * Operator, SYS and one JetStream-enabled application account; leaf links bind that account and
 * system links the system account. Every user is signed by its account's own key, so the
 * preloaded (bootstrap) JWTs alone authenticate them: no push needed.
 */
export async function testSecurity(topology: Topology, credentialsDir = "secrets"): Promise<TestSecurity> {
  const operator = createOperator();
  const sys = createAccount();
  const app = createAccount();
  const sysPub = sys.getPublicKey();
  const appPub = app.getPublicKey();
  const operatorJwt = await encodeOperator("TEST_OPERATOR", operator, { system_account: sysPub });
  const sysJwt = await encodeAccount("SYS", sys, {}, { signer: operator });
  const appJwt = await encodeAccount(
    "PLATFORM",
    app,
    { limits: { subs: -1, data: -1, payload: -1, conn: -1, leaf: -1, imports: -1, exports: -1, wildcards: true, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 } },
    { signer: operator },
  );
  const creds = async (name: string, account = app): Promise<string> => {
    const user = createUser();
    const jwt = await encodeUser(name, user, account);
    return new TextDecoder().decode(fmtCreds(jwt, user));
  };
  const files: Record<string, string> = { [`${credentialsDir}/app.creds`]: await creds("app") };
  const leafLinks: Record<string, LeafLinks> = {};
  for (const leaf of topology.leaves) {
    const rel = `${credentialsDir}/leaf-${leaf.serverName}.creds`;
    const sysRel = `${credentialsDir}/leaf-${leaf.serverName}-sys.creds`;
    files[rel] = await creds(`leaf-${leaf.serverName}`);
    files[sysRel] = await creds(`leaf-${leaf.serverName}-sys`, sys);
    leafLinks[leaf.serverName] = { application: { credentialsPath: rel, account: appPub }, system: { credentialsPath: sysRel, account: sysPub } };
  }
  return {
    security: { operatorJwt, systemAccount: sysPub, bootstrapJwts: { [sysPub]: sysJwt, [appPub]: appJwt }, leafLinks },
    files,
    appAccount: appPub,
  };
}
