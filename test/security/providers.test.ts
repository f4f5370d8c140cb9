/**
 * The NKey and IssuedJwt provider functions, called directly (as the Pulumi engine would):
 * keys are made once, JWTs are re-signed only when what they say changes, and an account lists
 * exactly its users' signing keys (removing a user drops its key; putting it back restores it).
 */
import { decode, type Account, type Operator, type User } from "@nats-io/jwt";
import { describe, expect, it } from "vitest";
import { accountClaims, operatorClaims, userClaims, withSigningKeys } from "../../components/security/claims";
import { canonicalJson, IssuedJwtInputs, IssuedJwtOutputs, issuedJwtProvider } from "../../components/security/jwt";
import { NKeyOutputs, nkeyProvider } from "../../components/security/nkey";
import { signedPermissionsProvider } from "../../components/security/signed-permissions";
import type { UserSpec } from "../../components/security/types";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const key = async (kind: "operator" | "account" | "user"): Promise<NKeyOutputs> => (await nkeyProvider.create({ kind })).outs!;
const create = async (inputs: IssuedJwtInputs): Promise<IssuedJwtOutputs> => (await issuedJwtProvider.create(inputs)).outs!;
const diff = (olds: IssuedJwtOutputs, news: IssuedJwtInputs) => issuedJwtProvider.diff!("id", olds, news);
const update = async (olds: IssuedJwtOutputs, news: IssuedJwtInputs) => (await issuedJwtProvider.update!("id", olds, news)).outs!;

const person: UserSpec = {
  name: "person-service",
  account: "PLATFORM",
  role: "service",
  signedBy: "signing-key",
  publish: { allow: ["person.events.>"], deny: [] },
  subscribe: { allow: ["person.commands.>"], deny: [] },
  connectionTypes: ["STANDARD"],
};
const platform = { name: "PLATFORM", system: false, kind: "data" as const, imports: [], exports: [] };

describe("nkeyProvider", () => {
  it.each([
    ["operator", "O", "SO"],
    ["account", "A", "SA"],
    ["user", "U", "SU"],
  ] as const)("creates a %s key (%s…, seed %s…) with its public key as id", async (kind, pub, seed) => {
    const { id, outs } = await nkeyProvider.create({ kind });
    expect(outs!.publicKey).toMatch(new RegExp(`^${pub}[A-Z2-7]{55}$`));
    expect(outs!.seed).toMatch(new RegExp(`^${seed}[A-Z2-7]{56}$`));
    expect(id).toBe(`nkey:${outs!.publicKey}`);
  });

  it("never changes a key of the same kind, replaces it when the kind changes", async () => {
    const k = await key("user");
    expect(await nkeyProvider.diff!("id", k, { kind: "user" })).toEqual({ changes: false });
    expect(await nkeyProvider.diff!("id", k, { kind: "account" })).toEqual({ changes: true, replaces: ["kind"] });
  });

  describe("a signing key rotates with the record of what it signs: replaced when those permissions narrow, updated when they widen", () => {
    const signs = (pub: string[], extra: Record<string, unknown> = {}) => ({ pub: { allow: pub }, sub: { allow: ["_INBOX_x.>"] }, allowed_connection_types: ["STANDARD"], ...extra });
    it.each([
      ["an allowed subject removed", signs(["a.>", "b.>"]), signs(["a.>"]), true],
      ["everything allowed becomes a list", { pub: {}, sub: {} }, signs(["a.>"]), true],
      ["a deny added", signs(["a.>"]), { ...signs(["a.>"]), pub: { allow: ["a.>"], deny: ["a.secret"] } }, true],
      ["response permission removed", signs(["a.>"], { resp: { max: 1, ttl: 0 } }), signs(["a.>"]), true],
      ["fewer replies per request", signs(["a.>"], { resp: { max: 3, ttl: 0 } }), signs(["a.>"], { resp: { max: 1, ttl: 0 } }), true],
      ["a connection type dropped", signs(["a.>"]), { ...signs(["a.>"]), allowed_connection_types: ["WEBSOCKET"] }, true],
      ["a subject added", signs(["a.>"]), signs(["a.>", "b.>"]), false],
      ["response permission added", signs(["a.>"]), signs(["a.>"], { resp: { max: 1, ttl: 0 } }), false],
    ])("%s → replace: %s", async (_what, before, after, replaced) => {
      const record = await signedPermissionsProvider.create({ signs: before });
      const d = await signedPermissionsProvider.diff!(record.id, record.outs!, { signs: after });
      expect(d).toEqual(replaced ? { changes: true, replaces: ["signs"] } : { changes: true });
      const key = (await nkeyProvider.create({ kind: "account", rotation: record.id })).outs!;
      if (replaced) {
        const next = await signedPermissionsProvider.create({ signs: after });
        expect(next.id).not.toBe(record.id);
        expect(await nkeyProvider.diff!("id", key, { kind: "account", rotation: next.id })).toEqual({ changes: true, replaces: ["rotation"] });
      } else {
        // Widening records what the key signs now; the key (and so every JWT naming it) stays.
        expect((await signedPermissionsProvider.update!(record.id, record.outs!, { signs: after })).outs).toEqual({ signs: after });
        expect(await nkeyProvider.diff!("id", key, { kind: "account", rotation: record.id })).toEqual({ changes: false });
      }
    });

    it("a signing key from before rotations (it recorded what it signs itself) rotates once", async () => {
      const old = { kind: "account" as const, publicKey: "A…", seed: "SA…", signs: signs(["a.>"]) } as NKeyOutputs;
      expect(await nkeyProvider.diff!("id", old, { kind: "account", rotation: "signs:x" })).toEqual({ changes: true, replaces: ["rotation"] });
    });
  });

  it("refuses an unknown kind at check", async () => {
    const result = await nkeyProvider.check!({ kind: "user" }, { kind: "server" as never });
    expect(result.failures).toEqual([{ property: "kind", reason: expect.stringMatching(/"server" is not one of operator, account, user/) }]);
  });
});

describe("issuedJwtProvider", () => {
  it("re-issues an account JWT with an iat later than the one it replaces, even within the same second (the resolvers keep the newer)", async () => {
    const [op, acc] = [await key("operator"), await key("account")];
    const inputs: IssuedJwtInputs = { kind: "account", name: "PLATFORM", subjectPublicKey: acc.publicKey, signerSeed: op.seed, claims: accountClaims(platform) };
    let outs = await create(inputs);
    const iats = [decode(outs.jwt).iat];
    for (const streams of [1, 2, 3]) {
      outs = await update(outs, { ...inputs, claims: accountClaims({ ...platform, jetstream: { memoryBytes: -1, fileBytes: -1, streams, consumers: -1 } }) });
      iats.push(decode(outs.jwt).iat);
    }
    for (let i = 1; i < iats.length; i++) expect(iats[i]).toBeGreaterThan(iats[i - 1]);
  });

  it("issues a bootstrap account JWT with the fixed iat it is given, verifiable like any other", async () => {
    const [op, acc] = [await key("operator"), await key("account")];
    const outs = await create({ kind: "account", name: "PLATFORM", subjectPublicKey: acc.publicKey, signerSeed: op.seed, claims: accountClaims(platform), issuedAt: 1 });
    const a = decode<Account>(outs.jwt);
    expect([a.iat, a.iss, a.sub, a.nats.type, a.nats.version]).toEqual([1, op.publicKey, acc.publicKey, "account", 2]);
  });

  it("issues a verifiable chain: operator (self-signed) → account → user", async () => {
    const [op, sys, acc, usr] = [await key("operator"), await key("account"), await key("account"), await key("user")];
    const operator = await create({ kind: "operator", name: "COWBOY_AI", subjectPublicKey: op.publicKey, signerSeed: op.seed, claims: operatorClaims(sys.publicKey) });
    const account = await create({
      kind: "account",
      name: "PLATFORM",
      subjectPublicKey: acc.publicKey,
      signerSeed: op.seed,
      claims: accountClaims(platform),
    });
    const user = await create({ kind: "user", name: "person-service", subjectPublicKey: usr.publicKey, signerSeed: acc.seed, claims: userClaims(person) });

    const o = decode<Operator>(operator.jwt);
    expect([o.iss, o.sub, o.name, o.nats.system_account, o.nats.type]).toEqual([op.publicKey, op.publicKey, "COWBOY_AI", sys.publicKey, "operator"]);
    const a = decode<Account>(account.jwt);
    expect([a.iss, a.sub, a.nats.limits?.conn, a.nats.revocations]).toEqual([op.publicKey, acc.publicKey, -1, undefined]);
    const u = decode<User>(user.jwt);
    expect([u.iss, u.sub, u.nats.pub?.allow, u.nats.allowed_connection_types]).toEqual([acc.publicKey, usr.publicKey, ["person.events.>"], ["STANDARD"]]);
    expect(account.issuerPublicKey).toBe(op.publicKey);
    expect(JSON.stringify([operator, account, user])).not.toMatch(/\bS[OAU][A-Z2-7]{56}\b/);
  });

  it("refuses an operator JWT signed by another key", async () => {
    const [op, other] = [await key("operator"), await key("operator")];
    await expect(create({ kind: "operator", name: "X", subjectPublicKey: op.publicKey, signerSeed: other.seed, claims: {} })).rejects.toThrow(/must be self-signed/);
  });

  describe("diff", () => {
    const setup = async () => {
      const [op, acc, usr] = [await key("operator"), await key("account"), await key("user")];
      const inputs: IssuedJwtInputs = { kind: "user", name: "person-service", subjectPublicKey: usr.publicKey, signerSeed: acc.seed, claims: userClaims(person) };
      return { op, acc, usr, inputs, outs: await create(inputs) };
    };

    it("sees no change for the same claims, even later (iat would differ) and in another key order", async () => {
      const { inputs, outs } = await setup();
      await sleep(1_100);
      expect(await diff(outs, inputs)).toEqual({ changes: false });
      const reordered = Object.fromEntries(Object.entries(inputs.claims).reverse());
      expect(JSON.stringify(reordered)).not.toBe(JSON.stringify(inputs.claims));
      expect(canonicalJson(reordered)).toBe(canonicalJson(inputs.claims));
      expect(await diff(outs, { ...inputs, claims: reordered })).toEqual({ changes: false });
    });

    it.each<[string, (s: Awaited<ReturnType<typeof setup>>) => Promise<IssuedJwtInputs>, object]>([
      ["claims change", async (s) => ({ ...s.inputs, claims: userClaims({ ...person, publish: { allow: ["x.>"], deny: [] } }) }), { changes: true }],
      ["name change", async (s) => ({ ...s.inputs, name: "renamed" }), { changes: true }],
      ["signer change", async (s) => ({ ...s.inputs, signerSeed: (await key("account")).seed }), { changes: true }],
      ["subject change (another identity)", async (s) => ({ ...s.inputs, subjectPublicKey: (await key("user")).publicKey }), { changes: true, replaces: ["subjectPublicKey"] }],
      ["signer unknown during preview", async (s) => ({ ...s.inputs, signerSeed: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" }), { changes: true }],
    ])("%s", async (_what, change, expected) => {
      const s = await setup();
      expect(await diff(s.outs, await change(s))).toEqual(expected);
    });
  });

  describe("accounts list their users' signing keys", () => {
    const setup = async () => {
      const [op, acc, alice, bob] = [await key("operator"), await key("account"), await key("account"), await key("account")];
      const claims = (keys: string[]) => withSigningKeys(accountClaims(platform), keys);
      const inputs: IssuedJwtInputs = { kind: "account", name: "PLATFORM", subjectPublicKey: acc.publicKey, signerSeed: op.seed, claims: claims([alice.publicKey]) };
      return { acc, alice, bob, claims, inputs, outs: await create(inputs) };
    };

    it("a new user's signing key re-signs the account JWT with that key listed", async () => {
      const { alice, bob, claims, inputs, outs } = await setup();
      const news = { ...inputs, claims: claims([bob.publicKey, alice.publicKey]) };
      expect(await diff(outs, news)).toEqual({ changes: true });
      const next = await update(outs, news);
      expect(next.jwt).not.toBe(outs.jwt);
      expect(decode<Account>(next.jwt).nats.signing_keys).toEqual([alice.publicKey, bob.publicKey].sort());
    });

    it("removing a user and putting it back gives the original claims again: nothing stays revoked", async () => {
      const { alice, bob, claims, inputs, outs } = await setup();
      const both = await update(outs, { ...inputs, claims: claims([alice.publicKey, bob.publicKey]) });
      const withoutAlice = await update(both, { ...inputs, claims: claims([bob.publicKey]) });
      expect(decode<Account>(withoutAlice.jwt).nats.signing_keys).toEqual([bob.publicKey]);
      const back = await update(withoutAlice, { ...inputs, claims: claims([alice.publicKey, bob.publicKey]) });
      expect(back.claims).toEqual(both.claims);
      expect(decode<Account>(back.jwt).nats.revocations).toBeUndefined();
      expect(await diff(back, { ...inputs, claims: claims([bob.publicKey, alice.publicKey]) })).toEqual({ changes: false });
    });

    it("a user JWT signed by its signing key names the account as issuer_account", async () => {
      const { acc, alice } = await setup();
      const user = await key("user");
      const outs = await create({ kind: "user", name: "alice", subjectPublicKey: user.publicKey, signerSeed: alice.seed, issuerAccount: acc.publicKey, claims: {} });
      const claims = decode<{ issuer_account?: string }>(outs.jwt);
      expect([claims.iss, claims.nats.issuer_account]).toEqual([alice.publicKey, acc.publicKey]);
    });
  });
});
