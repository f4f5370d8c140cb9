/**
 * The NKey and IssuedJwt provider functions, called directly (as the Pulumi engine would):
 * keys are made once, JWTs are re-signed only when what they say changes, and a user removed
 * from an account lands in that account's revocations.
 */
import { decode, type Account, type Operator, type User } from "@nats-io/jwt";
import { describe, expect, it } from "vitest";
import { accountClaims, operatorClaims, userClaims } from "../../components/security/claims";
import { canonicalJson, IssuedJwtInputs, IssuedJwtOutputs, issuedJwtProvider, nextRevocations } from "../../components/security/jwt";
import { NKeyOutputs, nkeyProvider } from "../../components/security/nkey";
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
  publish: { allow: ["person.events.>"], deny: [] },
  subscribe: { allow: ["person.commands.>"], deny: [] },
  connectionTypes: ["STANDARD"],
};

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

  it("refuses an unknown kind at check", async () => {
    const result = await nkeyProvider.check!({ kind: "user" }, { kind: "server" as never });
    expect(result.failures).toEqual([{ property: "kind", reason: expect.stringMatching(/"server" is not one of operator, account, user/) }]);
  });
});

describe("issuedJwtProvider", () => {
  it("issues a verifiable chain: operator (self-signed) → account → user", async () => {
    const [op, sys, acc, usr] = [await key("operator"), await key("account"), await key("account"), await key("user")];
    const operator = await create({ kind: "operator", name: "COWBOY_AI", subjectPublicKey: op.publicKey, signerSeed: op.seed, claims: operatorClaims(sys.publicKey) });
    const account = await create({
      kind: "account",
      name: "PLATFORM",
      subjectPublicKey: acc.publicKey,
      signerSeed: op.seed,
      claims: accountClaims({ name: "PLATFORM", system: false }),
      issuedUsers: { "person-service": usr.publicKey },
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

  describe("accounts and revocation", () => {
    const setup = async () => {
      const [op, acc, alice, bob] = [await key("operator"), await key("account"), await key("user"), await key("user")];
      const inputs: IssuedJwtInputs = {
        kind: "account",
        name: "PLATFORM",
        subjectPublicKey: acc.publicKey,
        signerSeed: op.seed,
        claims: accountClaims({ name: "PLATFORM", system: false }),
        issuedUsers: { alice: alice.publicKey },
      };
      return { alice, bob, inputs, outs: await create(inputs) };
    };

    it("a new user changes the issued set but keeps the account JWT as it was", async () => {
      const { alice, bob, inputs, outs } = await setup();
      const news = { ...inputs, issuedUsers: { alice: alice.publicKey, bob: bob.publicKey } };
      expect(await diff(outs, news)).toEqual({ changes: true });
      const next = await update(outs, news);
      expect(next.jwt).toBe(outs.jwt);
      expect(next.issuedUsers).toEqual({ alice: alice.publicKey, bob: bob.publicKey });
      expect(next.revocations).toEqual({});
    });

    it("a removed user is revoked in a re-signed account JWT; the revocation stays", async () => {
      const { alice, bob, inputs, outs } = await setup();
      const withBob = await update(outs, { ...inputs, issuedUsers: { alice: alice.publicKey, bob: bob.publicKey } });
      const before = Math.floor(Date.now() / 1000);
      const withoutAlice = await update(withBob, { ...inputs, issuedUsers: { bob: bob.publicKey } });
      expect(withoutAlice.jwt).not.toBe(withBob.jwt);
      expect(Object.keys(withoutAlice.revocations)).toEqual([alice.publicKey]);
      expect(withoutAlice.revocations[alice.publicKey]).toBeGreaterThanOrEqual(before);
      expect(decode<Account>(withoutAlice.jwt).nats.revocations).toEqual(withoutAlice.revocations);
      // A later, unrelated change keeps the revocation.
      const later = await update(withoutAlice, { ...inputs, claims: accountClaims({ name: "PLATFORM", system: false, jetstream: { memoryBytes: 1, fileBytes: 1, streams: 1, consumers: 1 } }), issuedUsers: { bob: bob.publicKey } });
      expect(decode<Account>(later.jwt).nats.revocations).toEqual(withoutAlice.revocations);
      expect(await diff(later, { ...inputs, claims: later.claims, issuedUsers: { bob: bob.publicKey } })).toEqual({ changes: false });
    });
  });

  it.each([
    [{}, ["a", "b"], ["a"], { b: 100 }],
    [{ x: 5 }, ["a"], ["a"], { x: 5 }],
    [{ b: 5 }, ["a", "b"], ["a"], { b: 100 }],
    [{}, [], ["a"], {}],
  ])("nextRevocations(%j, %j → %j) = %j", (previous, before, now, expected) => {
    expect(nextRevocations(previous, before, now, 100)).toEqual(expected);
  });
});
