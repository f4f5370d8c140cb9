/**
 * Bring your own identities, without servers: `security.identities` and the secret
 * `cim-nats:identitySeeds` checked before anything is deployed (each problem with its path and
 * fix, never echoing a seed), an nsc store checked against the declaration, what adopted
 * accounts keep in their JWT claims, and the NKey provider's refusal to switch a key.
 */
import { createAccount, createOperator, createUser } from "@nats-io/nkeys";
import { describe, expect, it } from "vitest";
import { identityPlan } from "../../components/security/identity-plan";
import { loadProvidedIdentities } from "../../components/security/load-identities";
import { nkeyProvider } from "../../components/security/nkey";
import { parseSecurity } from "../../components/security/parse";
import { identitiesFromConfig, identitiesFromNsc, type NscStore } from "../../components/security/provided-identities";
import { parseTopology } from "../../components/topology/parse";
import { readStackConfig } from "../support/stack-config";
import { configIssues } from "./support/config-issues";

const topology = parseTopology(readStackConfig("dev").topology, { name: "dev" });
const seedOf = (kp: { getSeed(): Uint8Array }) => new TextDecoder().decode(kp.getSeed());
const operator = createOperator();
const platform = createAccount();
const sys = createAccount();
const signing = createAccount();
const user = createUser();
const SEED = /\bS[OAU][A-Z2-7]{56}\b/;

function raw(identities?: Record<string, unknown>, users: Record<string, unknown>[] = [{ name: "legacy", account: "PLATFORM" }]): Record<string, unknown> {
  return { operator: "COWBOY_AI", accounts: [{ name: "PLATFORM", jetstream: { maxMemory: -1, maxFile: -1 } }], users, ...(identities ? { identities } : {}) };
}

function store(over: Partial<NscStore> = {}, users: NscStore["accounts"][number]["users"] = []): NscStore {
  return {
    dir: "/srv/nsc/stores",
    keysDir: "/srv/nsc/keys",
    operator: { name: "COWBOY_AI", publicKey: operator.getPublicKey(), systemAccount: sys.getPublicKey(), seed: seedOf(operator) },
    accounts: [
      { name: "PLATFORM", publicKey: platform.getPublicKey(), seed: seedOf(platform), signingKeys: [signing.getPublicKey()], revocations: { UOLD: 5 }, users },
      { name: "SYS", publicKey: sys.getPublicKey(), seed: seedOf(sys), signingKeys: [], revocations: {}, users: [] },
    ],
    ...over,
  };
}

describe("security.identities: bad input, at preview", () => {
  it.each([
    ["nsc without a folder", { source: "nsc" }, "security.identities.dir", /is required with source nsc/],
    ["a folder for another source", { source: "config", dir: "/srv/nsc" }, "security.identities.dir", /applies to source nsc only/],
    ["an unknown source", { source: "vault" }, "security.identities.source", /is not an identity source: use generated/],
    ["signing keys of an unknown account", { signingKeys: { NOPE: [signing.getPublicKey()] } }, "security.identities.signingKeys.NOPE", /not a declared account/],
    ["a signing key that is no public key", { signingKeys: { PLATFORM: ["ABC"] } }, "security.identities.signingKeys.PLATFORM[0]", /is not an account public key/],
  ])("%s", (_, identities, path, reason) => {
    const issues = configIssues(() => parseSecurity(raw(identities), topology));
    expect(issues.map((i) => i.propertyPath)).toEqual([path]);
    expect(issues[0].reason).toMatch(reason);
  });

  it("a seed pasted where a signing key belongs is named a leak, and not printed back", () => {
    const issues = configIssues(() => parseSecurity(raw({ signingKeys: { PLATFORM: [seedOf(signing)] } }), topology));
    expect(issues.map((i) => i.propertyPath)).toEqual(["security.identities.signingKeys.PLATFORM[0]"]);
    expect(issues[0].reason).toMatch(/looks like a seed.*a seed there is a leak/);
    expect(JSON.stringify(issues)).not.toMatch(SEED);
  });

  it("defaults to generated keys, keep, no switch", () => {
    expect(parseSecurity(raw(), topology).identities).toEqual({ source: "generated", signingKeys: {}, undeclaredUsers: "keep", allowSwitch: false });
  });
});

describe("identitySeeds (source config)", () => {
  const spec = parseSecurity(raw({ source: "config" }), topology);

  it("takes the operator's and the named accounts' seeds", () => {
    const p = identitiesFromConfig(spec, { operator: seedOf(operator), accounts: { PLATFORM: seedOf(platform) } });
    expect(Object.keys(p.seeds).sort()).toEqual(["account:PLATFORM", "operator"]);
    expect(identityPlan(spec, { provided: Object.keys(p.seeds), accounts: p.accounts }).keys.filter((k) => k.provided).map((k) => k.id)).toEqual(["operator", "account:PLATFORM"]);
  });

  it("names every bad seed by its path, never printing one", () => {
    const issues = configIssues(() => identitiesFromConfig(spec, { operator: seedOf(platform), accounts: { PLATFORM: seedOf(operator), OTHER: seedOf(sys) } }));
    expect(issues.map((i) => i.propertyPath)).toEqual(["identitySeeds.operator", "identitySeeds.accounts.PLATFORM", "identitySeeds.accounts.OTHER"]);
    expect(issues[0].reason).toMatch(/is the seed of A[A-Z2-7]{55}, not of an operator key/);
    expect(issues[2].reason).toMatch(/'OTHER' is not an account of security/);
    expect(JSON.stringify(issues)).not.toMatch(SEED);
    expect(configIssues(() => identitiesFromConfig(spec, undefined))[0].reason).toMatch(/pulumi config set --secret --path 'cim-nats:identitySeeds.operator'/);
  });
});

describe("an nsc store against the declaration", () => {
  it("keeps nsc's signing keys and revocations in the adopted account's claims", () => {
    const spec = parseSecurity(raw({ source: "nsc", dir: "/srv/nsc" }), topology);
    const p = identitiesFromNsc(spec, store());
    const plan = identityPlan(spec, { provided: Object.keys(p.seeds), accounts: p.accounts });
    const platformJwt = plan.jwts.find((j) => j.id === "account:PLATFORM")!;
    const pub = (id: string) => (id === "account:SYS" ? sys.getPublicKey() : `K-${id}`);
    const claims = platformJwt.claims(pub) as { signing_keys: string[]; revocations: Record<string, number> };
    // The stack's own signing keys (one per user, sorted), then nsc's.
    expect(claims.signing_keys).toEqual([...["leaf-cimstor", "leaf-nats-1", "leaf-nats-2", "leaf-nats-3", "legacy"].map((u) => `K-signing:${u}`), signing.getPublicKey()]);
    expect(claims.revocations).toEqual({ UOLD: 5 });
    // nsc's default permissions stay (users without their own would otherwise be widened).
    const withDefaults = identitiesFromNsc(spec, store({ accounts: store().accounts.map((a) => (a.name === "PLATFORM" ? { ...a, defaultPermissions: { pub: { allow: ["orders.>"] }, sub: {} } } : a)) }));
    const kept = identityPlan(spec, { provided: Object.keys(withDefaults.seeds), accounts: withDefaults.accounts }).jwts.find((j) => j.id === "account:PLATFORM")!.claims(pub);
    expect(kept.default_permissions).toEqual({ pub: { allow: ["orders.>"] }, sub: {} });
    // A generated stack's claims are as they were: nothing adopted, nothing added.
    const plain = identityPlan(spec).jwts.find((j) => j.id === "account:PLATFORM")!.claims(pub);
    expect(plain).not.toHaveProperty("revocations");
    expect(plain.signing_keys).not.toContain(signing.getPublicKey());
  });

  it("revokes a declared user's nsc JWT when the declaration is narrower, and undeclared ones only when told", () => {
    const nscUser = { name: "legacy", publicKey: user.getPublicKey(), issuedAt: 1_700_000_000, claims: { pub: {}, sub: {} } };
    const other = { name: "old-tool", publicKey: createUser().getPublicKey(), issuedAt: 1_600_000_000, claims: { pub: {}, sub: {} } };
    const narrower = parseSecurity(raw({ source: "nsc", dir: "/x" }, [{ name: "legacy", account: "PLATFORM", publish: { allow: ["orders.>"] } }]), topology);
    expect(identitiesFromNsc(narrower, store({}, [nscUser, other])).accounts.PLATFORM.revocations).toEqual({ UOLD: 5, [nscUser.publicKey]: 1_700_000_000 });
    const revoke = parseSecurity(raw({ source: "nsc", dir: "/x", undeclaredUsers: "revoke" }, [{ name: "legacy", account: "PLATFORM", connectionTypes: ["STANDARD", "WEBSOCKET", "LEAFNODE", "LEAFNODE_WS", "MQTT", "MQTT_WS", "IN_PROCESS"] }]), topology);
    const p = identitiesFromNsc(revoke, store({}, [nscUser, other]));
    expect(p.accounts.PLATFORM.revocations).toEqual({ UOLD: 5, [other.publicKey]: 1_600_000_000 });
    expect(p.notes).toEqual(["PLATFORM/legacy: nsc creds keep working (declared with the same or wider permissions)", "PLATFORM/old-tool: nsc creds revoked: not declared (undeclaredUsers: revoke)"]);
  });

  it("refuses a store that does not fit, each problem with its fix", () => {
    const spec = parseSecurity(raw({ source: "nsc", dir: "/x" }), topology);
    const other = createAccount();
    const issues = configIssues(() =>
      identitiesFromNsc(
        spec,
        store({
          operator: { name: "ACME", publicKey: operator.getPublicKey(), systemAccount: sys.getPublicKey() },
          accounts: [
            { name: "PLATFORM", publicKey: platform.getPublicKey(), signingKeys: [], revocations: {}, users: [] },
            { name: "SYSTEM", publicKey: sys.getPublicKey(), seed: seedOf(sys), signingKeys: [], revocations: {}, users: [] },
            { name: "BILLING", publicKey: other.getPublicKey(), seed: seedOf(other), signingKeys: [], revocations: {}, users: [{ name: "u", publicKey: "U", issuedAt: 1, claims: {} }] },
          ],
        }),
      ),
    );
    expect(issues.map((i) => [i.propertyPath, i.reason.split(":")[0]])).toEqual([
      ["security.operator", "'COWBOY_AI' is not the operator of the nsc store at /srv/nsc/stores (it holds 'ACME')"],
      ["security.identities.keysDir", `the operator key ${operator.getPublicKey()} is not in the keystore /srv/nsc/keys`],
      ["security.systemAccount", `the nsc operator's system account is 'SYSTEM' (${sys.getPublicKey()})`],
      ["security.identities.keysDir", `the key of account 'PLATFORM' (${platform.getPublicKey()}) is not in the keystore /srv/nsc/keys`],
      ["security.accounts", `nsc account 'SYSTEM' (${sys.getPublicKey()}, 0 users) is not declared`],
      ["security.accounts", `nsc account 'BILLING' (${other.getPublicKey()}, 1 user) is not declared`],
    ]);
    expect(JSON.stringify(issues)).not.toMatch(SEED);
  });
});

describe("NKey: a provided key, and a switch refused at check", () => {
  const check = (olds: Record<string, unknown>, news: Record<string, unknown>) => nkeyProvider.check!(olds as never, news as never);

  it("creates the key from the provided seed", async () => {
    const made = await nkeyProvider.create({ kind: "account", seed: seedOf(platform) });
    expect(made.outs).toMatchObject({ publicKey: platform.getPublicKey(), seed: seedOf(platform), provided: true });
  });

  it.each([
    ["generated → provided", { kind: "operator" }, { kind: "operator", seed: seedOf(operator) }, /from its generated key to a provided one \(O[A-Z2-7]{55}\)/],
    ["provided → generated", { kind: "operator", seed: seedOf(operator) }, { kind: "operator" }, /from the provided key O[A-Z2-7]{55} to a newly generated one/],
    ["provided → another provided", { kind: "operator", seed: seedOf(operator) }, { kind: "operator", seed: seedOf(createOperator()) }, /to another one/],
  ])("%s is refused with why and the fix", async (_, olds, news, what) => {
    const r = await check(olds, news);
    expect(r.failures?.map((f) => f.property)).toEqual(["allowSwitch"]);
    expect(r.failures![0].reason).toMatch(what);
    expect(r.failures![0].reason).toMatch(/every creds file issued before stops working.*allowSwitch: true/);
    expect(JSON.stringify(r.failures)).not.toMatch(SEED);
    expect((await check(olds, { ...news, allowSwitch: true })).failures ?? []).toEqual([]);
  });

  it("a new key, the same provided key, and a seed of the wrong kind", async () => {
    expect((await check({}, { kind: "operator", seed: seedOf(operator) })).failures ?? []).toEqual([]);
    expect((await check({ kind: "operator", seed: seedOf(operator) }, { kind: "operator", seed: seedOf(operator) })).failures ?? []).toEqual([]);
    const wrong = await check({}, { kind: "operator", seed: seedOf(platform) });
    expect(wrong.failures).toEqual([{ property: "kind", reason: "the provided seed is not a valid operator seed (SO…): check the key given for it" }]);
  });

  it("diff replaces a key whose provided seed changed, and never a generated one", async () => {
    const generated = (await nkeyProvider.create({ kind: "account" })).outs!;
    expect(await nkeyProvider.diff!("x", generated, { kind: "account" })).toEqual({ changes: false });
    expect((await nkeyProvider.diff!("x", generated, { kind: "account", seed: seedOf(platform) })).replaces).toEqual(["seed"]);
    const provided = (await nkeyProvider.create({ kind: "account", seed: seedOf(platform) })).outs!;
    expect(await nkeyProvider.diff!("x", provided, { kind: "account", seed: seedOf(platform) })).toEqual({ changes: false });
    expect((await nkeyProvider.diff!("x", provided, { kind: "account" })).replaces).toEqual(["seed"]);
  });
});

describe("loadProvidedIdentities: what the program reads", () => {
  const seeds = JSON.stringify({ operator: seedOf(operator), accounts: { PLATFORM: seedOf(platform) } });

  it("generated: nothing read, nothing provided; seeds set anyway are refused", () => {
    const spec = parseSecurity(raw(), topology);
    expect(loadProvidedIdentities(spec, () => undefined)).toBeUndefined();
    const issues = configIssues(() => loadProvidedIdentities(spec, () => seeds));
    expect(issues).toEqual([{ propertyPath: "identitySeeds", reason: "is set but security.identities.source is generated: remove it (`pulumi config rm cim-nats:identitySeeds`), or set source: config to sign with those keys" }]);
  });

  it("config: the secret's JSON (as Pulumi hands a --path secret over); not JSON is refused without echoing it", () => {
    const spec = parseSecurity(raw({ source: "config" }), topology);
    expect(Object.keys(loadProvidedIdentities(spec, () => seeds)!.seeds).sort()).toEqual(["account:PLATFORM", "operator"]);
    const issues = configIssues(() => loadProvidedIdentities(spec, () => seedOf(operator)));
    expect(issues.map((i) => i.propertyPath)).toEqual(["identitySeeds"]);
    expect(JSON.stringify(issues)).not.toMatch(SEED);
  });

  it("nsc: reads the store named by dir and keysDir, for the declared operator", () => {
    const spec = parseSecurity(raw({ source: "nsc", dir: "/srv/nsc", keysDir: "/srv/keys" }), topology);
    const read: unknown[][] = [];
    const p = loadProvidedIdentities(spec, () => undefined, (...args) => (read.push(args), store()));
    expect(read).toEqual([["/srv/nsc", "COWBOY_AI", "/srv/keys"]]);
    expect(p!.origin).toBe("nsc store /srv/nsc/stores");
  });
});
