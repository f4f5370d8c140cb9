/**
 * The `cim-nats:security` section as declared data: operator, accounts, users with their bindings
 * and permissions, identities — each field's type, default and documentation (parse.ts runs it;
 * stack/config-schema.ts puts it into the stack schema, the docs and the JSON Schema). The rules
 * across users, accounts, the topology and JetStream are parse.ts's and the modules it assembles
 * the spec from. Pure.
 */
import { z } from "zod";
import type { Loose } from "../config/validate";
import { because, flag, matching, opt, req, record, size as sizeOf, text } from "../config/atoms";
import { DURATION_PATTERN, parseDurationMs } from "../config/units";
import { subjectReason, tokenReason } from "../subjects/subject";
import { inboxPrefixReason } from "./inboxes";
import { CONNECTION_TYPES, IdentitySource, type ConnectionType } from "./types";

/**
 * Connection types of users that don't say: clients only, so a service's creds cannot link a
 * rogue leaf into the account.
 */
export const DEFAULT_CONNECTION_TYPES: readonly ConnectionType[] = ["STANDARD", "WEBSOCKET"];
export const DEFAULT_SYSTEM_ACCOUNT = "SYS";

const name = text();

/** A name used as a subject token (operator, account): the security section's wording. */
const securityToken = (what: string, example?: string) => {
  const e = because((v) => (v === undefined ? `is required: the ${what}, e.g. ${example}` : `${what} must be a string, got ${JSON.stringify(v)}`));
  return z.string(e).superRefine((s, ctx) => {
    const reason = tokenReason(s, what);
    if (reason) ctx.addIssue({ code: "custom", input: s, message: `${reason}: use letters, digits, '-' or '_'` });
  }).meta({ minLength: 1 });
};
/** Permission subjects: each valid (wildcards as whole tokens), none twice. */
const subjects = (what = "permission subject") =>
  z
    .array(z.string(because((v) => `must be a subject string, got ${JSON.stringify(v)}`)), because((v) => `must be a list of subjects, e.g. ["person.events.>"], got ${JSON.stringify(v)}`))
    .superRefine((list, ctx) =>
      list.forEach((s, i) => {
        const reason = subjectReason(s, true, what);
        if (reason) ctx.addIssue({ code: "custom", path: [i], input: s, message: reason });
        else if (list.indexOf(s) !== i) ctx.addIssue({ code: "custom", path: [i], input: s, message: `subject '${s}' is listed twice: remove one` });
      }),
    );
const nameList = (example: string, what = "names") => z.array(z.string().min(1), because((v) => `must be a list of ${what}, e.g. [${example}]; got ${JSON.stringify(v)}`));

const subjectRuleSchema = record({ allow: opt(subjects(), "subjects allowed (empty: all)"), deny: opt(subjects(), "subjects denied") }, "{ allow, deny }");
const bucketNames = () => nameList("PERSON_METADATA", "bucket names");
const bucketsSchema = record({ kv: opt(bucketNames(), "KV buckets"), objects: opt(bucketNames(), "object buckets") }, "{ kv, objects }");

/** A service says what it does (bindings); the stack derives its permissions (docs/security.md). */
export const bindingFields = {
  publishes: opt(nameList("PERSON_EVENTS"), "streams it writes (acked publishes)"),
  consumes: opt(nameList("PERSON_EVENTS"), "consumers it pulls from"),
  subscribes: opt(subjects(), "core subjects it subscribes to"),
  serves: opt(subjects(), "subjects it answers requests on"),
  reads: opt(bucketsSchema, "buckets it reads (gets)"),
  writes: opt(bucketsSchema, "buckets it writes"),
  watches: opt(bucketsSchema, "buckets it follows through consumers it creates (nats.js kv watch, object get)"),
};

const responseTtl = z.string(because((v) => String(parseDurationMs(v)))).refine((v) => typeof parseDurationMs(v) === "number", because((v) => String(parseDurationMs(v)))).meta({ title: "duration", pattern: DURATION_PATTERN });
const positive = because((v) => `${JSON.stringify(v)} is not a positive whole number of replies per request`);
const responsesSchema = record({ max: opt(z.number(positive).int(positive).min(1, positive), "replies per request", { default: 1 }), ttl: opt(responseTtl, "how long it may reply") }, "{ max, ttl }");
const responsesFix = (v: unknown) => `must be true, false or { max, ttl }, e.g. { max: 1, ttl: 2s }; got ${JSON.stringify(v)}`;

const connectionTypesFix = (v: unknown) => `must be a non-empty list of connection types (${CONNECTION_TYPES.join(", ")}), got ${JSON.stringify(v)}`;
const connectionTypes = z
  .array(z.enum(CONNECTION_TYPES, because((v) => `unknown connection type ${JSON.stringify(v)}: use ${CONNECTION_TYPES.join(", ")}`)), because(connectionTypesFix))
  .min(1, because(connectionTypesFix));
const userNameFix = "use letters, digits, '-' and '_' (it names the .creds file), e.g. person-service";
/** The place names of `at` are the topology's hosts: the section parser checks them (jetstream/locations.ts). */
const placeFix = "use `leaves`, `hub`, or a list of host names";
const place = z
  .union([z.enum(["leaves", "hub"]), z.array(name, because((v) => `'${String(v)}' is not a place; ${placeFix}`)).min(1, because(() => `the host list is empty; ${placeFix}`))], because((v) => `'${String(v)}' is not a place; ${placeFix}`))
  .meta({ title: "leaves | hub | [host, …]" });

const userSchema = record({
  name: req(matching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, (_, v) => `${v === undefined ? "is required" : `${JSON.stringify(v)} is not a valid user name`}: ${userNameFix}`), "user name; also its creds file and context name"),
  account: opt(securityToken("account name", "PLATFORM"), "the account it belongs to: a declared account (required without bindings), or for a service with bindings a trust group it shares with the services it trusts", { derived: "a service with bindings: an account of its own, named after it" }),
  at: opt(place, "where it connects: leaves, hub, or a list of hosts (required with bindings)"),
  inboxPrefix: opt(
    z.string(because((v) => `must be a string such as _INBOX_person-service, got ${JSON.stringify(v)}`)).refine((v) => !inboxPrefixReason(v), because((v) => inboxPrefixReason(String(v)))),
    "its reply inbox",
    { derived: "`_INBOX_<name>`" },
  ),
  ...bindingFields,
  publish: opt(subjectRuleSchema, "extra publish permissions"),
  subscribe: opt(subjectRuleSchema, "extra subscribe permissions"),
  allowResponses: opt(z.union([flag(), responsesSchema], because(responsesFix)), "may reply to requests it received"),
  requestReply: opt(flag(), "may make requests (gets its inbox)"),
  leafLink: opt(z.string(because((v) => `${JSON.stringify(v)} is not a leaf server of the topology: write a leaf's server name (its host's name)`)).min(1, because(() => `"" is not a leaf server of the topology: write a leaf's server name (its host's name)`)), "leaf server whose leafnode link it is (then no bindings)"),
  connectionTypes: opt(connectionTypes, "connection types allowed", { default: DEFAULT_CONNECTION_TYPES }),
}, "{ name, account?, at?, bindings…, publish?, subscribe? }");

const limitSize = () => sizeOf(true, "is required when jetstream is set: a size such as 1G, or -1 for unlimited");
const count = () => {
  const e = because((v) => `${JSON.stringify(v)} is not a count: write a whole number, or -1 for unlimited`);
  return z.number(e).int(e).min(-1, e);
};
const accountJetStreamSchema = record({
  maxMemory: req(limitSize(), "memory storage limit (-1: the server's)"),
  maxFile: req(limitSize(), "file storage limit (-1: the server's)"),
  maxStreams: opt(count(), "stream limit (-1: none)", { default: -1 }),
  maxConsumers: opt(count(), "consumer limit (-1: none)", { default: -1 }),
}, "{ maxMemory, maxFile, maxStreams, maxConsumers }");
const accountSchema = record({
  name: req(securityToken("account name", "PLATFORM"), "account name"),
  jetstream: opt(accountJetStreamSchema, "JetStream limits; without it JetStream is off for the account"),
}, "{ name, jetstream }");

const ACCOUNT_PUBLIC_KEY = /^A[A-Z2-7]{55}$/;
const accountPublicKeys = z.array(
  matching(ACCOUNT_PUBLIC_KEY, (k) =>
    /^"?S/.test(k)
      ? "looks like a seed, not a public key: remove it from the stack config now (a seed there is a leak; rotate that key) and list the public key (A…) instead"
      : `${k} is not an account public key (A followed by 55 base32 characters, as \`nsc describe account\` lists signing keys)`,
  ),
  because((v) => `must be a list of account public keys, got ${JSON.stringify(v)}`),
);
const identitiesSchema = record({
  source: opt(
    z.enum(IdentitySource, because((v) => `${JSON.stringify(v)} is not an identity source: use generated (the stack makes its keys), nsc (an nsc store's keys, read at each run) or config (the secret cim-nats:identitySeeds)`)),
    "where the operator and account keys come from: generated once by the stack, an existing nsc store (`dir`), or the secret `cim-nats:identitySeeds`",
    { default: IdentitySource.Generated },
  ),
  dir: opt(text("the nsc data folder holding stores/ and keys/ (`nsc env` shows both)"), "source nsc: the folder holding nsc's `stores/` (JWTs) and `keys/` (seeds); read at every preview and up, never copied into the repo", { derived: "required with source nsc" }),
  keysDir: opt(text("nsc's keystore folder"), "source nsc: nsc's keystore (`NKEYS_PATH`)", { derived: "`<dir>/keys`" }),
  signingKeys: opt(z.record(z.string(), accountPublicKeys), "account name → signing keys its JWT keeps listing, so creds nsc signed with them keep working (source nsc adds the store's own)"),
  undeclaredUsers: opt(
    z.enum(["keep", "revoke"], because((v) => `${JSON.stringify(v)} is not a choice: keep (their nsc creds keep working) or revoke (the account JWT revokes them)`)),
    "source nsc: users in the store that `users` does not declare: keep their creds working, or revoke them",
    { default: "keep" },
  ),
  allowSwitch: opt(flag(), "let an up replace the operator or an account key (generated ↔ provided, or another provided key): every creds file issued before stops working", { default: false }),
}, "{ source, dir?, keysDir?, signingKeys?, undeclaredUsers?, allowSwitch? }");

const accountsFix = () => "needs at least one application account: a list of { name, jetstream: { maxMemory, maxFile } }, e.g. [{ name: PLATFORM }]";
export const securitySchema = record({
  operator: req(securityToken("operator name", "COWBOY_AI"), "operator name"),
  systemAccount: opt(securityToken("system account name", "SYS"), "system account", { default: DEFAULT_SYSTEM_ACCOUNT }),
  applicationAccount: opt(text(), "account leaves bind and the JetStream admin uses (required with several accounts)"),
  accounts: req(z.array(accountSchema, because(accountsFix)).min(1, because(accountsFix)), "accounts"),
  users: opt(z.array(userSchema, because((v) => `must be a list of users { name, account, publish, subscribe }, got ${JSON.stringify(v)}`)), "users: services with bindings, leaf links, or explicit permissions"),
  identities: opt(identitiesSchema, "bring your own operator and account keys (docs/adopt.md)", { derived: "{ source: generated }" }),
}, "{ operator, accounts, users, identities? }");


/** The section as checkSection returns it: any field may be missing (absent, or reported invalid). */
export type SecuritySection = Loose<z.output<typeof securitySchema>>;
