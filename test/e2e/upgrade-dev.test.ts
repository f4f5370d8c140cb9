/**
 * Day 2 across a release: 27d6a76's running dev stack (no TLS, no route authorization,
 * nats-server's default sync_interval, account JWTs preloaded by a MEMORY resolver, with the
 * config it shipped) upgraded by this checkout's program and config in ONE `up`; the hub's route
 * transport changes under it (render/route-transport.ts). Own addresses 127.0.112.x.
 * Events at the leaves before and after reach the aggregate exactly once — the ones acked after
 * the up within 10 s, though every server restarted in it (the data account's push nudges the
 * hub's stalled sources, components/jetstream/source-nudge.ts); preview plans what up does; the next
 * preview plans nothing. Skipped in a shallow clone.
 *
 * The other release upgrade (df3799b, accounts per service) is upgrade-accounts-dev.test.ts: the
 * two were one file; apart, the suite's workers run them side by side.
 */
import { credsAuthenticator } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDevProject, type DevProject } from "../../harness/dev-project";
import { missingRevision, withProgramAt } from "./prod-project";
import { resourceSummary, runPulumi, stackOutputs } from "../../harness/pulumi-cli";
import { eventually } from "../support/eventually";
import { stackCa, stackClientTls } from "../../harness/stack-tls";
import { changedSteps, useConfigOf } from "./upgrade-support";

/** The last release that landed before TLS (its dev stack is what users run). */
const PREVIOUS_RELEASE = "27d6a76b99cae6704f704dc406ac11a40312790f";
const NET = "127.0.112";
const SKIP = missingRevision(PREVIOUS_RELEASE);
if (SKIP) console.warn(`upgrade-dev: skipped: ${SKIP}`);

let project: DevProject;
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

beforeAll(() => {
  if (SKIP) return;
  project = createDevProject("cim-nats-upgrade-");
});

afterAll(async () => {
  if (project) await project.cleanup();
}, 300_000);

describe.skipIf(SKIP !== "")("upgrading the previous release's running dev stack", () => {
  it("takes one up: preview = up, TLS and route auth on every server, every event in the aggregate exactly once, within seconds", async () => {
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
});
