/**
 * What the security capability hands out besides JWTs: creds text, `nats` contexts (checked
 * against what the pinned natscli itself writes) and the ServerSecurity the renderers take.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { decode, parseCreds } from "@nats-io/jwt";
import { afterAll, describe, expect, it } from "vitest";
import { HUB_CONTEXT, HUB_SYSTEM_CONTEXT, natsContext, natsContexts } from "../../components/security/contexts";
import { credsFileName, credsText, SEED_PATTERN } from "../../components/security/creds";
import { parseSecurity } from "../../components/security/parse";
import { buildServerSecurity, leafLinkCredentialsPath } from "../../components/security/server-security";
import { parseTopology } from "../../components/topology/parse";
import { PROJECT_ROOT, readStackConfig } from "../support/stack-config";
import { issueForTest } from "./support/issue";

const run = promisify(execFile);
const topology = parseTopology(readStackConfig("dev").topology, { name: "dev" });
const raw = {
  operator: "COWBOY_AI",
  accounts: [{ name: "PLATFORM", jetstream: { maxMemory: "32M", maxFile: "512M" } }],
  users: [{ name: "person-service", account: "PLATFORM", publish: { allow: ["person.events.>"] } }],
};
const spec = parseSecurity(raw, topology);
const temp: string[] = [];
afterAll(() => temp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe("creds", () => {
  it("hold the user's JWT and seed in the format the clients parse", async () => {
    const issue = await issueForTest(spec);
    const text = credsText(issue.jwts["user:person-service"].jwt, issue.keys["user:person-service"].seed);
    const parsed = await parseCreds(new TextEncoder().encode(text));
    expect(parsed.jwt).toBe(issue.jwts["user:person-service"].jwt);
    expect(parsed.key).toBe(issue.keys["user:person-service"].seed);
    expect(parsed.aid).toBe(issue.issued.accounts.PLATFORM.publicKey);
    expect(text).toMatch(SEED_PATTERN);
    expect(credsFileName("person-service")).toBe("person-service.creds");
  });

  it("SEED_PATTERN finds operator, account and user seeds, and nothing public", async () => {
    const issue = await issueForTest(spec);
    for (const k of Object.values(issue.keys)) {
      expect(`x ${k.seed} y`).toMatch(SEED_PATTERN);
      expect(k.publicKey).not.toMatch(SEED_PATTERN);
    }
    for (const j of Object.values(issue.jwts)) expect(j.jwt).not.toMatch(SEED_PATTERN);
  });
});

describe("nats contexts", () => {
  it("one per leaf (its URL and domain) and one for the hub (every member) with the admin creds, one hub-system", () => {
    const contexts = natsContexts(topology, "~/.config/cim-nats/dev/jetstream-admin.creds", "~/.config/cim-nats/dev/sys-monitor.creds");
    expect(Object.keys(contexts)).toEqual([...topology.leaves.map((l) => l.serverName), HUB_CONTEXT, HUB_SYSTEM_CONTEXT]);
    expect(JSON.parse(contexts[HUB_SYSTEM_CONTEXT]).creds).toBe("~/.config/cim-nats/dev/sys-monitor.creds");
    const leaf = JSON.parse(contexts["nats-2"]);
    expect([leaf.url, leaf.jetstream_domain, leaf.creds, leaf.user_seed]).toEqual(["nats://127.0.0.42:4222", "nats-2", "~/.config/cim-nats/dev/jetstream-admin.creds", ""]);
    const hub = JSON.parse(contexts[HUB_CONTEXT]);
    expect(hub.url).toBe("nats://127.0.0.41:4223,nats://127.0.0.42:4223,nats://127.0.0.43:4223");
    expect(hub.jetstream_domain).toBe("hub");
  });

  it("are exactly what `nats context save` writes for the same settings", async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-security-ctx-"));
    temp.push(home);
    const nats = path.join(PROJECT_ROOT, ".tools", "bin", "nats");
    const fields = { description: "leaf nats-2", urls: ["nats://127.0.0.42:4222"], credsPath: "/secrets/jetstream-admin.creds", jetstreamDomain: "nats-2" };
    await run(nats, ["context", "save", "probe", "--description", fields.description, "--server", fields.urls[0], "--creds", fields.credsPath, "--js-domain", fields.jetstreamDomain], {
      env: { ...process.env, XDG_CONFIG_HOME: home, HOME: home },
    });
    const written = fs.readFileSync(path.join(home, "nats", "context", "probe.json"), "utf8");
    expect(JSON.parse(natsContext(fields))).toEqual(JSON.parse(written));
  });
});

describe("buildServerSecurity", () => {
  it("preloads only the bootstrap JWTs, names the system account and points each leaf at its own two link creds", async () => {
    const issue = await issueForTest(spec);
    const security = buildServerSecurity(spec, issue.issued, "/var/lib/cim-nats/secrets/");
    expect(security.operatorJwt).toBe(issue.issued.operatorJwt);
    expect(security.systemAccount).toBe(issue.issued.accounts.SYS.publicKey);
    expect(security.bootstrapJwts).toEqual({
      [issue.issued.accounts.PLATFORM.publicKey]: issue.issued.accounts.PLATFORM.bootstrapJwt,
      [issue.issued.accounts.SYS.publicKey]: issue.issued.accounts.SYS.bootstrapJwt,
    });
    // Stable for the stack's life: iat 1, limits only (no signing keys, imports or exports).
    for (const jwt of Object.values(security.bootstrapJwts)) {
      const claims = decode<{ signing_keys?: unknown; imports?: unknown; exports?: unknown }>(jwt);
      expect(claims.iat).toBe(1);
      expect([claims.nats.signing_keys, claims.nats.imports, claims.nats.exports]).toEqual([undefined, undefined, undefined]);
    }
    expect(security.leafLinks).toEqual(
      Object.fromEntries(
        topology.leaves.map((l) => [
          l.serverName,
          {
            application: { credentialsPath: `/var/lib/cim-nats/secrets/leaf-${l.serverName}.creds`, account: issue.issued.accounts.PLATFORM.publicKey },
            system: { credentialsPath: `/var/lib/cim-nats/secrets/leaf-${l.serverName}-sys.creds`, account: issue.issued.accounts.SYS.publicKey },
          },
        ]),
      ),
    );
    expect(JSON.stringify(security)).not.toMatch(SEED_PATTERN);
    expect(leafLinkCredentialsPath("creds", "leaf-nats-1")).toBe("creds/leaf-nats-1.creds");
  });

  it("says which account is missing when the issued material is incomplete", async () => {
    const issue = await issueForTest(spec);
    const { SYS: _sys, ...withoutSys } = issue.issued.accounts;
    expect(() => buildServerSecurity(spec, { ...issue.issued, accounts: withoutSys }, "/s")).toThrow(/account 'SYS' was not issued/);
  });
});
