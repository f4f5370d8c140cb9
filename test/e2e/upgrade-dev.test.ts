/**
 * Day 2 across a release: the previous release's running dev stack (27d6a76: no TLS, no route
 * authorization, nats-server's default sync_interval) upgraded by this checkout's program in ONE
 * `up`. The hub's route transport changes under it (TLS and route authorization turned on), so
 * the members cannot roll one by one waiting for each other (render/route-transport.ts); before
 * that was handled, this `up` failed at the first hub member. Events at the leaves before and
 * after reach the aggregate exactly once; preview plans what up does; the next preview plans
 * nothing. Its own addresses (127.0.112.x) and file backend; skipped in a shallow clone.
 */
import { credsAuthenticator } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDevProject, type DevProject } from "./dev-project";
import { missingRevision, withProgramAt } from "./prod-project";
import { resourceSummary, runPulumi, stackOutputs } from "./pulumi-cli";
import { eventually } from "../support/eventually";
import { stackCa, stackClientTls } from "../support/stack-tls";

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
  const file = path.join(project.projectDir, "Pulumi.dev.yaml");
  fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(/127\.0\.0\./g, `${NET}.`));
});

afterAll(async () => {
  if (project) await project.cleanup();
});

describe.skipIf(SKIP !== "")("upgrading the previous release's running dev stack", () => {
  it("takes one up: preview = up, TLS and route auth on every server, every event in the aggregate exactly once", async () => {
    const ctx = project.context;
    await runPulumi(ctx, ["stack", "select", "--create", "dev"]);
    await withProgramAt(project, PREVIOUS_RELEASE, async () => {
      expect(resourceSummary((await runPulumi(ctx, ["up", "--yes", "--skip-preview", "-s", "dev"])).stdout).create).toBe(74);
    });
    const before = await stackOutputs(ctx, "dev");
    const person = (before.creds as Record<string, string>)["person-service"];
    const admin = before.jetstreamAdminCreds as string;
    await publish(`nats://${NET}.41:4222`, person, 5, "before");
    expect(before.tls).toBeUndefined();
    await eventually("5 events stored at nats-1", () => count(`nats://${NET}.41:4222`, "nats-1", "PERSON_EVENTS", admin), (n) => n === 5);

    const preview = resourceSummary((await runPulumi(ctx, ["preview", "-s", "dev"])).stdout);
    const up = await runPulumi(ctx, ["up", "--yes", "--skip-preview", "-s", "dev"], { timeoutMs: 600_000 });
    const applied = resourceSummary(up.stdout);
    expect(applied).toEqual(preview);
    expect(applied.create).toBeGreaterThan(0); // the CA, the certificates, the route password
    expect(applied.delete ?? 0).toBe(0);
    expect(applied.replace ?? 0).toBe(0);

    const after = await stackOutputs(ctx, "dev");
    const ca = stackCa(after);
    // Plain clients are refused now; the CA's clients get in, and publish at another leaf.
    await expect(count(`nats://${NET}.41:4222`, "nats-1", "PERSON_EVENTS", admin)).rejects.toThrow();
    await publish(`nats://${NET}.42:4222`, person, 5, "after", ca);
    expect(await count(`nats://${NET}.41:4222`, "nats-1", "PERSON_EVENTS", admin, ca)).toBe(5);
    await eventually("5 events stored at nats-2", () => count(`nats://${NET}.42:4222`, "nats-2", "PERSON_EVENTS", admin, ca), (n) => n === 5);
    await eventually(
      "the aggregate holds the 10 events",
      () => count(`nats://${NET}.41:4223`, "hub", "CLUSTER_PERSON_EVENTS", admin, ca),
      (n) => n >= 10,
    );
    expect(await count(`nats://${NET}.41:4223`, "hub", "CLUSTER_PERSON_EVENTS", admin, ca)).toBe(10);

    const again = await runPulumi(ctx, ["preview", "--expect-no-changes", "-s", "dev"], { allowFailure: true });
    expect(again.code, again.stdout.slice(-1500)).toBe(0);
  }, 900_000);
});
