/**
 * NatsSecurity under the real Pulumi CLI (.tools/bin/pulumi, file backend in a temp dir): a
 * throwaway project using this repo's node_modules runs the component on the dev stack's
 * security config. Proves the dynamic providers serialize and run, that a second `up` changes
 * nothing, that seeds stay secret (stack output and state), that removing a user drops its
 * signing key through one account update, and that bad config fails the preview naming the field.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { decode, type Account, type User } from "@nats-io/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SEED_PATTERN } from "../../components/security/creds";
import { PROJECT_ROOT, readStackConfig } from "../support/stack-config";

const execFileAsync = promisify(execFile);
const PULUMI = path.join(PROJECT_ROOT, ".tools", "bin", "pulumi");
const SEEDS = new RegExp(SEED_PATTERN.source, "g");

type RawSecurity = { accounts: { name: string; jetstream?: Record<string, unknown> }[]; users: { name: string; publish?: unknown }[] };
const devSecurity = readStackConfig("dev").security as RawSecurity;
/** The dev config, with PLATFORM limits that fit the dev leaves (see operator-mode.test.ts). */
const security: RawSecurity = {
  ...devSecurity,
  accounts: devSecurity.accounts.map((a) => (a.name === "PLATFORM" ? { ...a, jetstream: { ...a.jetstream, maxMemory: "32M", maxFile: "512M" } } : a)),
};

const PROGRAM = `
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { load } from "js-yaml";
import { NatsSecurity, securitySpecOrInputError } from ${JSON.stringify(path.join(PROJECT_ROOT, "components", "security", "nats-security"))};
import { parseTopology } from ${JSON.stringify(path.join(PROJECT_ROOT, "components", "topology", "parse"))};
import { parseJetStream } from ${JSON.stringify(path.join(PROJECT_ROOT, "components", "jetstream", "spec"))};

const doc = load(fs.readFileSync(${JSON.stringify(path.join(PROJECT_ROOT, "Pulumi.dev.yaml"))}, "utf8")) as { config: Record<string, unknown> };
const topology = parseTopology(doc.config["cim-nats:topology"], { name: "cli-test" });
// Service bindings name the dev stack's streams, consumers and buckets.
const jetstream = parseJetStream(doc.config["cim-nats:jetstream"], topology);
const spec = securitySpecOrInputError(JSON.parse(fs.readFileSync(__dirname + "/security.json", "utf8")), topology, jetstream);
const security = new NatsSecurity("nats", { spec, topology, leafCredentialsDir: "/var/lib/cim-nats/secrets" });

export const serverSecurity = security.serverSecurity;
export const userCreds = security.userCreds;
export const leafLinkCreds = pulumi.secret(pulumi.all(security.leafLinkCreds));
export const jetstreamAdminCreds = security.jetstreamAdminCreds;
export const natsContexts = security.natsContexts;
export const publicKeys = security.publicKeys;
`;

let dir: string;
let env: NodeJS.ProcessEnv;

async function pulumi(args: string[], allowFailure = false): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(PULUMI, [...args, "--non-interactive"], { cwd: dir, env, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (!allowFailure) throw new Error(`pulumi ${args.join(" ")} failed (${e.code}):\n${e.stdout}\n${e.stderr}`);
    return { code: e.code ?? 1, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

function writeSecurity(value: unknown): void {
  fs.writeFileSync(path.join(dir, "security.json"), JSON.stringify(value, null, 2));
}

type Resource = { urn: string; type: string; outputs?: Record<string, unknown> };
async function stateResources(): Promise<{ text: string; resources: Resource[] }> {
  const { out } = await pulumi(["stack", "export"]);
  return { text: out, resources: (JSON.parse(out) as { deployment: { resources: Resource[] } }).deployment.resources };
}

/** Counts in the summary of `up`/`preview`, e.g. { updated: 1, deleted: 2 }. */
function summary(out: string): Record<string, number> {
  const counts: Record<string, number> = {};
  // Replacements are shown as "+-1 to replace": two marks.
  for (const m of out.matchAll(/^\s+[~+-]*\s*(\d+) (to update|to delete|to create|to replace|updated|deleted|created|replaced|unchanged)\s*$/gm)) {
    counts[m[2].replace(/^to /, "")] = Number(m[1]);
  }
  return counts;
}

const hasPulumi = fs.existsSync(PULUMI);

describe.skipIf(!hasPulumi)("NatsSecurity under the Pulumi CLI", () => {
  // Keys: the operator, each account (PLATFORM, SYS and one per declared service), each user (the
  // declared, 4 leaf links, 4 system links, the 2 derived admins) and a signing key per user but
  // the 2 admins (signed by their account's key). JWTs: operator, each account, the 2 bootstrap
  // JWTs servers preload, each user.
  const users = devSecurity.users.length + 4 + 4 + 2;
  const accounts = 2 + devSecurity.users.length;
  const resources = 1 + accounts + users + 2 * (users - 2) + (1 + accounts + 2 + users); // keys, signing keys and their records, JWTs

  beforeAll(async () => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-security-pulumi-")));
    fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"));
    fs.mkdirSync(path.join(dir, "state"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: cim-nats-security-cli-test\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nmain: index.ts\n");
    fs.writeFileSync(
      path.join(dir, "tsconfig.json"),
      JSON.stringify({ compilerOptions: { target: "ES2022", module: "commonjs", moduleResolution: "node", strict: true, esModuleInterop: true, skipLibCheck: true, types: ["node"] }, files: ["index.ts"] }),
    );
    fs.writeFileSync(path.join(dir, "index.ts"), PROGRAM);
    writeSecurity(security);
    env = { ...process.env, PULUMI_BACKEND_URL: `file://${dir}/state`, PULUMI_CONFIG_PASSPHRASE: "cim-nats-security-test", PULUMI_SKIP_UPDATE_CHECK: "true" };
    await pulumi(["stack", "init", "dev"]);
  }, 120_000);

  afterAll(() => {
    // No destroy: every resource is a key or JWT made here, kept only in this folder's backend.
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("creates a key and a JWT per identity; a second up changes nothing", async () => {
    const first = await pulumi(["up", "--yes", "--skip-preview"]);
    // + the stack and the NatsSecurity component
    expect(summary(first.out).created).toBe(resources + 2);
    // No preview of its own: the no-change preview is the next line's subject.
    const second = await pulumi(["up", "--yes", "--skip-preview"]);
    expect(summary(second.out)).toEqual({ unchanged: resources + 2 });
    await pulumi(["preview", "--expect-no-changes"]);
  }, 600_000);

  it("never shows a seed without --show-secrets, and keeps none in plaintext in the state", async () => {
    const { out } = await pulumi(["stack", "output", "--json"]);
    const outputs = JSON.parse(out) as Record<string, unknown>;
    expect(out.match(SEEDS)).toBeNull();
    for (const secret of ["userCreds", "leafLinkCreds", "jetstreamAdminCreds", "natsContexts"]) expect(outputs[secret], secret).toBe("[secret]");
    // Public material stays readable.
    expect((outputs.serverSecurity as { operatorJwt: string }).operatorJwt).toMatch(/^eyJ/);
    expect((outputs.publicKeys as { operator: string }).operator).toMatch(/^O[A-Z2-7]{55}$/);

    const state = await stateResources();
    expect(state.text.match(SEEDS)).toBeNull();

    // Positive control: the secrets are there, and they are creds with seeds.
    const shown = JSON.parse((await pulumi(["stack", "output", "--json", "--show-secrets"])).out) as { userCreds: Record<string, string> };
    expect(Object.keys(shown.userCreds).sort()).toContain("person-service");
    expect(shown.userCreds["person-service"].match(SEEDS)).toHaveLength(1);
  }, 600_000);

  it("removing a service removes its account (keys and JWTs) and updates only PLATFORM's JWT: its exports, not its signing keys", async () => {
    const before = await stateResources();
    const platform = (r: { resources: Resource[] }) => decode<Account>((r.resources.find((x) => x.urn.endsWith("nats-account-PLATFORM-jwt"))!.outputs as { jwt: string }).jwt).nats;
    const exportsBefore = (platform(before).exports ?? []).map((e) => e.subject);
    expect(exportsBefore).toContain("$JS.API.CONSUMER.MSG.NEXT.CLUSTER_PERSON_EVENTS.pattern-detection");
    writeSecurity({ ...security, users: security.users.filter((u) => u.name !== "pattern-service") });

    // The user's key, signing key, its record and JWT; its account's key and JWT.
    const preview = await pulumi(["preview", "--diff"]);
    expect(summary(preview.out)).toMatchObject({ update: 1, delete: 6 });
    expect(preview.out).toMatch(/nats-account-PLATFORM-jwt/);
    const up = await pulumi(["up", "--yes", "--skip-preview"]);
    expect(summary(up.out)).toMatchObject({ updated: 1, deleted: 6 });

    const after = await stateResources();
    expect((platform(after).exports ?? []).map((e) => e.subject)).toEqual(exportsBefore.filter((s) => !s.includes("pattern-detection") && s !== "patterns.>"));
    expect(platform(after).signing_keys).toEqual(platform(before).signing_keys);
    expect(after.resources.some((r) => r.urn.endsWith("nats-account-pattern-service-jwt"))).toBe(false);
    await pulumi(["preview", "--expect-no-changes"]);
  }, 600_000);

  it("widening one user's permissions re-issues only that user's JWT (its signing key stays); narrowing them replaces its signing key too", async () => {
    const withPublish = (allow: string[]) =>
      security.users.filter((u) => u.name !== "pattern-service").map((u) => (u.name === "person-service" ? { ...u, publish: { allow } } : u));
    writeSecurity({ ...security, users: withPublish(["person.events.>", "person.audit.>"]) });
    // The preview names exactly what the up does: the key stays, so its account's JWT is known unchanged.
    const widerPreview = await pulumi(["preview"]);
    expect(summary(widerPreview.out)).toMatchObject({ update: 2 });
    expect(widerPreview.out).not.toMatch(/account-person-service-jwt|signing-key/);
    const wider = await pulumi(["up", "--yes", "--skip-preview"]);
    // The JWT, and the record of what its signing key signs now; the key and its account's JWT stay.
    expect(summary(wider.out)).toMatchObject({ updated: 2 });
    expect(wider.out).toMatch(/nats-user-person-service-jwt\s+updated/);
    expect(wider.out).toMatch(/nats-user-person-service-signed-permissions\s+updated/);
    const state = await stateResources();
    const jwt = (state.resources.find((r) => r.urn.endsWith("nats-user-person-service-jwt"))!.outputs as { jwt: string }).jwt;
    // The plain list comes first, then what person-service's bindings derive.
    expect(decode<User>(jwt).nats.pub?.allow?.slice(0, 3)).toEqual(["person.events.>", "person.audit.>", "$JS.API.STREAM.INFO.KV_PERSON_METADATA"]);

    writeSecurity({ ...security, users: withPublish(["person.events.>"]) });
    const preview = await pulumi(["preview"]);
    // A new record and signing key, the user JWT it signs, and person-service's account JWT listing it.
    expect(summary(preview.out)).toMatchObject({ replace: 2, update: 2 });
    const narrower = await pulumi(["up", "--yes", "--skip-preview"]);
    expect(summary(narrower.out)).toMatchObject({ replaced: 2, updated: 2 });
    expect(narrower.out).toMatch(/nats-user-person-service-signing-key\s+replaced/);
    await pulumi(["preview", "--expect-no-changes"]);
  }, 600_000);

  it("bad config fails the preview with every problem and its path", async () => {
    writeSecurity({
      ...security,
      users: [...security.users, { name: "person-service", account: "NOPE", publish: { allow: ["bad..subject"] } }],
    });
    const { code, out } = await pulumi(["preview"], true);
    expect(code).not.toBe(0);
    const bad = `security.users[${security.users.length}]`; // the one appended above
    expect(out).toContain(`${bad}.name`);
    expect(out).toContain(`${bad}.account`);
    expect(out).toContain(`${bad}.publish.allow[0]`);
    writeSecurity(security);
  }, 600_000);
});
