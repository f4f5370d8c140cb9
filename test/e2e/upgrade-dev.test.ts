/**
 * Day 2 across a release, each older release's running dev stack (with the config it shipped)
 * upgraded by this checkout's program and config in ONE `up`:
 * - 27d6a76 (no TLS, no route authorization, nats-server's default sync_interval): the hub's
 *   route transport changes under it (render/route-transport.ts). Own addresses 127.0.112.x.
 * - df3799b (every service in PLATFORM, account JWTs preloaded by a MEMORY resolver): moves to an
 *   account per service and pushed JWTs (docs/security.md) while a service keeps publishing with
 *   its old creds until they are refused; every acked event reaches the aggregate exactly once,
 *   the services get new creds under the same context names. Own addresses 127.0.153.x.
 * Events at the leaves before and after reach the aggregate exactly once; preview plans what up
 * does; the next preview plans nothing. Skipped in a shallow clone.
 *
 * The two upgrades are independent (own projects, own addresses): they run concurrently, so the
 * file takes about as long as the slower one.
 */
import { credsAuthenticator } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, it } from "vitest";
import { createDevProject, type DevProject } from "../../harness/dev-project";
import { missingRevision, withProgramAt } from "./prod-project";
import { execFileSync } from "node:child_process";
import { jetstream } from "@nats-io/jetstream";
import { resourceSummary, runPulumi, stackOutputs } from "../../harness/pulumi-cli";
import { PROJECT_ROOT } from "../support/stack-config";
import { eventually } from "../support/eventually";
import { stackCa, stackClientTls } from "../../harness/stack-tls";

/** The last release that landed before TLS (its dev stack is what users run). */
const PREVIOUS_RELEASE = "27d6a76b99cae6704f704dc406ac11a40312790f";
const NET = "127.0.112";
const SKIP = missingRevision(PREVIOUS_RELEASE);
if (SKIP) console.warn(`upgrade-dev: skipped: ${SKIP}`);

const enc = new TextEncoder();

async function count(url: string, domain: string, stream: string, creds: string, ca?: string): Promise<number> {
  const nc = await connect({ servers: url, authenticator: credsAuthenticator(enc.encode(creds)), ...(ca ? { tls: stackClientTls(ca, url) } : {}) });
  try {
    return (await (await jetstreamManager(nc, { domain })).streams.info(stream)).state.messages;
  } finally {
    await nc.close();
  }
}

async function publish(url: string, creds: string, n: number, tag: string, ca?: string): Promise<void> {
  const nc = await connect({ servers: url, authenticator: credsAuthenticator(enc.encode(creds)), ...(ca ? { tls: stackClientTls(ca, url) } : {}) });
  try {
    // Core publishes (the service's inbox prefix is its own, docs/security.md); the counts below are the acks.
    for (let i = 0; i < n; i++) nc.publish(`person.events.person.${tag}`, `${tag}-${i}`);
    await nc.flush();
  } finally {
    await nc.close();
  }
}

/** Writes the dev config of `revision` (or this checkout's) into the project, on `net`'s addresses. */
function useConfigOf(p: DevProject, net: string, revision?: string): void {
  const text = revision
    ? execFileSync("git", ["-C", PROJECT_ROOT, "show", `${revision}:Pulumi.dev.yaml`], { encoding: "utf8" })
    : fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.dev.yaml"), "utf8");
  fs.writeFileSync(path.join(p.projectDir, "Pulumi.dev.yaml"), text.replace(/127\.0\.0\./g, `${net}.`));
}

/** The last release that landed before accounts per service and pushed JWTs. */
const SHARED_ACCOUNT_RELEASE = "df3799b3da688c28a84cca46aa59a55632f008f7";
const NET2 = "127.0.153";
const SKIP2 = missingRevision(SHARED_ACCOUNT_RELEASE);
if (SKIP2) console.warn(`upgrade-dev (accounts per service): skipped: ${SKIP2}`);

type Step = { op: string; urn: string };
/** "op name" of every step of a `--json` run's plan or engine events that changes something. */
function changedSteps(json: string, performed: boolean): string[] {
  let steps: Step[] = [];
  if (performed) {
    for (const line of json.split("\n")) if (line.startsWith("{")) steps.push(...((JSON.parse(line) as { resourcePreEvent?: { metadata: Step } }).resourcePreEvent ? [(JSON.parse(line) as { resourcePreEvent: { metadata: Step } }).resourcePreEvent.metadata] : []));
  } else {
    const at = [...json.matchAll(/^\{/gm)].map((m) => m.index!).reverse().find((i) => {
      try {
        JSON.parse(json.slice(i));
        return true;
      } catch {
        return false;
      }
    });
    steps = (JSON.parse(json.slice(at)) as { steps?: Step[] }).steps ?? [];
  }
  return [...new Set(steps.filter((x) => x.op !== "same" && x.op !== "read" && !x.urn.endsWith("pulumi:pulumi:Stack")).map((x) => `${x.op === "create-replacement" || x.op === "delete-replaced" ? "replace" : x.op} ${x.urn.split("::").pop()}`))].sort();
}

const projects: DevProject[] = [];
/** A project copy for one upgrade, cleaned up after the file. */
function upgradeProject(prefix: string): DevProject {
  const p = createDevProject(prefix);
  projects.push(p);
  return p;
}

afterAll(async () => {
  await Promise.all(projects.map((p) => p.cleanup()));
}, 300_000);

describe.concurrent("upgrading the previous releases' running dev stacks", () => {
  it.skipIf(SKIP !== "")("from 27d6a76 takes one up: preview = up, TLS and route auth on every server, every event in the aggregate exactly once, within seconds", async ({ expect }) => {
    const project = upgradeProject("cim-nats-upgrade-");
    const ctx = project.context;
    await runPulumi(ctx, ["stack", "select", "--create", "dev"]);
    useConfigOf(project, NET, PREVIOUS_RELEASE);
    await withProgramAt(project, PREVIOUS_RELEASE, async () => {
      expect(resourceSummary((await runPulumi(ctx, ["up", "--yes", "--skip-preview", "-s", "dev"])).stdout).create).toBe(74);
    });
    useConfigOf(project, NET);
    const before = await stackOutputs(ctx, "dev");
    const person = (before.creds as Record<string, string>)["person-service"];
    const admin = before.jetstreamAdminCreds as string;
    await publish(`nats://${NET}.41:4222`, person, 5, "before");
    expect(before.tls).toBeUndefined();
    await eventually("5 events stored at nats-1", () => count(`nats://${NET}.41:4222`, "nats-1", "PERSON_EVENTS", admin), (n) => n === 5);

    const preview = changedSteps((await runPulumi(ctx, ["preview", "--json", "-s", "dev"])).stdout, false);
    const up = await runPulumi(ctx, ["up", "--yes", "--skip-preview", "--json", "-s", "dev"], { timeoutMs: 600_000 });
    const applied = changedSteps(up.stdout, true);
    expect(applied).toEqual(preview);
    expect(applied.filter((c) => c.startsWith("create ")).length).toBeGreaterThan(0); // the CA, the certificates, the route password
    // Only identities change hands: the admins' own signing keys go (their account's key signs
    // them now), the others are replaced under a permission record; no store, server or file is
    // deleted or replaced.
    expect(applied.filter((c) => c.startsWith("delete "))).toEqual(["delete security-user-jetstream-admin-signing-key", "delete security-user-sys-monitor-signing-key"]);
    expect(applied.filter((c) => c.startsWith("replace ") && !/^replace security-user-[a-z0-9-]+-signing-key$/.test(c))).toEqual([]);

    const after = await stackOutputs(ctx, "dev");
    const ca = stackCa(after);
    const newAdmin = after.jetstreamAdminCreds as string;
    // Plain clients are refused now; the CA's clients get in with the new creds (the old ones are
    // refused: their signing key is gone from the account) and publish at another leaf.
    await expect(count(`nats://${NET}.41:4222`, "nats-1", "PERSON_EVENTS", admin)).rejects.toThrow();
    await expect(publish(`nats://${NET}.42:4222`, person, 1, "old-creds", ca)).rejects.toThrow();
    await publish(`nats://${NET}.42:4222`, (after.creds as Record<string, string>)["person-service"], 5, "after", ca);
    expect(await count(`nats://${NET}.41:4222`, "nats-1", "PERSON_EVENTS", newAdmin, ca)).toBe(5);
    await eventually("5 events stored at nats-2", () => count(`nats://${NET}.42:4222`, "nats-2", "PERSON_EVENTS", newAdmin, ca), (n) => n === 5);
    // Every server restarted once in this up (the resolver changed): the hub's sources of the
    // leaves failed while the links waited for the account JWT pushes, and the data account's
    // push nudged them once the links were up (source-nudge.ts). Without that nudge they sat in
    // nats-server's retry backoff: 28-31 s (up to 40 s) here.
    const sent = Date.now();
    await eventually(
      "the aggregate holds the 10 events",
      () => count(`nats://${NET}.41:4223`, "hub", "CLUSTER_PERSON_EVENTS", newAdmin, ca),
      (n) => n >= 10,
      10_000,
    );
    console.log(`upgrade from 27d6a76: the events acked at nats-2 after the up were in the aggregate ${Date.now() - sent} ms later`);
    expect(await count(`nats://${NET}.41:4223`, "hub", "CLUSTER_PERSON_EVENTS", newAdmin, ca)).toBe(10);

    const again = await runPulumi(ctx, ["preview", "--expect-no-changes", "-s", "dev"], { allowFailure: true });
    expect(again.code, again.stdout.slice(-1500)).toBe(0);
  }, 900_000);

  it.skipIf(SKIP2 !== "")("from df3799b (every service in PLATFORM) to an account per service takes one up: preview = up; no store or server replaced or deleted; every event acked before, during and after is in the aggregate exactly once; services keep their context names", async ({ expect }) => {
    const p2 = upgradeProject("cim-nats-upgrade-accounts-");
    const ctx = p2.context;
    await runPulumi(ctx, ["stack", "select", "--create", "dev"]);
    useConfigOf(p2, NET2, SHARED_ACCOUNT_RELEASE);
    await withProgramAt(p2, SHARED_ACCOUNT_RELEASE, async () => {
      await runPulumi(ctx, ["up", "--yes", "--skip-preview", "-s", "dev"], { timeoutMs: 600_000 });
    });
    const before = await stackOutputs(ctx, "dev");
    const ca = stackCa(before);
    const oldPerson = (before.creds as Record<string, string>)["person-service"];
    const contextsBefore = Object.keys(JSON.parse(JSON.stringify(before.natsContexts ?? {})) as object);
    const leaf = (o: number) => `nats://${NET2}.${o}:4222`;
    const connectPerson = (url: string, creds: string) =>
      connect({ servers: url, authenticator: credsAuthenticator(enc.encode(creds)), tls: stackClientTls(ca, url), inboxPrefix: "_INBOX_person-service", maxReconnectAttempts: -1, reconnectTimeWait: 200 });

    // Acked before: 5 at nats-1 with the old creds.
    const acked: string[] = [];
    const nc1 = await connectPerson(leaf(41), oldPerson);
    for (let i = 0; i < 5; i++) {
      await jetstream(nc1).publish("person.events.created", `before-${i}`, { msgID: `before-${i}` });
      acked.push(`before-${i}`);
    }
    await nc1.close();

    // During: the old creds keep publishing at nats-2 every 50 ms until the servers refuse them.
    const during = await connectPerson(leaf(42), oldPerson);
    let stop = false;
    let refusedAfter = 0;
    const publisher = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          await jetstream(during).publish("person.events.created", `during-${i}`, { msgID: `during-${i}`, timeout: 2_000 });
          acked.push(`during-${i}`);
        } catch {
          refusedAfter = acked.length;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    useConfigOf(p2, NET2);
    const preview = changedSteps((await runPulumi(ctx, ["preview", "--json", "-s", "dev"], { timeoutMs: 300_000 })).stdout, false);
    const up = await runPulumi(ctx, ["up", "--yes", "--skip-preview", "--json", "-s", "dev"], { timeoutMs: 900_000 });
    const applied = changedSteps(up.stdout, true);
    stop = true;
    await publisher;
    await during.close().catch(() => undefined);
    expect(applied).toEqual(preview);
    // Only identities change hands: no store, server, certificate or CA is replaced or deleted.
    expect(applied.filter((c) => /^(delete|replace) /.test(c) && !/ security-/.test(c))).toEqual([]);
    const byOp = applied.reduce<Record<string, number>>((c, x) => ((c[x.split(" ")[0]] = (c[x.split(" ")[0]] ?? 0) + 1), c), {});
    console.log(`upgrade to accounts per service: ${JSON.stringify(byOp)}; ${acked.length} events acked by the old creds (refused after the switch: ${refusedAfter > 0})`);

    // After: the new creds under the same context names publish at nats-3.
    const after = await stackOutputs(ctx, "dev");
    expect(Object.keys(after.natsContexts as object).sort()).toEqual(contextsBefore.sort());
    const nc3 = await connectPerson(leaf(43), (after.creds as Record<string, string>)["person-service"]);
    for (let i = 0; i < 5; i++) {
      await jetstream(nc3).publish("person.events.created", `after-${i}`, { msgID: `after-${i}` });
      acked.push(`after-${i}`);
    }
    await nc3.close();
    // The old creds are refused now.
    await expect(connect({ servers: leaf(41), authenticator: credsAuthenticator(enc.encode(oldPerson)), tls: stackClientTls(ca, leaf(41)), maxReconnectAttempts: 0 })).rejects.toThrow(/authoriz/i);

    const admin = after.jetstreamAdminCreds as string;
    const hub = `nats://${NET2}.41:4223`;
    const aggregate = async () => {
      const nc = await connect({ servers: hub, authenticator: credsAuthenticator(enc.encode(admin)), tls: stackClientTls(ca, hub) });
      try {
        const jsm = await jetstreamManager(nc, { domain: "hub" });
        const info = await jsm.streams.info("CLUSTER_PERSON_EVENTS");
        const out: string[] = [];
        for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
          const m = await jsm.streams.getMessage("CLUSTER_PERSON_EVENTS", { seq }).catch(() => null);
          if (m) out.push(m.string());
        }
        return out;
      } finally {
        await nc.close();
      }
    };
    const sent = Date.now();
    const seen = await eventually("every acked event in the aggregate", aggregate, (all) => acked.every((id) => all.includes(id)), 60_000);
    console.log(`upgrade to accounts per service: every acked event in the aggregate ${Date.now() - sent} ms after the last ack`);
    expect(seen.filter((id) => acked.includes(id)).sort()).toEqual([...acked].sort());
    expect(new Set(seen).size).toBe(seen.length);

    const again = await runPulumi(ctx, ["preview", "--expect-no-changes", "-s", "dev"], { allowFailure: true });
    expect(again.code, again.stdout.slice(-1500)).toBe(0);
  }, 1_500_000);
});
