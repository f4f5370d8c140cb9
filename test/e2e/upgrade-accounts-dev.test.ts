/**
 * Day 2 across a release: df3799b's running dev stack (every service in PLATFORM, account JWTs
 * preloaded by a MEMORY resolver, with the config it shipped) upgraded by this checkout's program
 * and config in ONE `up`: it moves to an account per service and pushed JWTs (docs/security.md)
 * while a service keeps publishing with its old creds until they are refused; every acked event
 * reaches the aggregate exactly once, the services get new creds under the same context names;
 * preview plans what up does; the next preview plans nothing. Own addresses 127.0.153.x. Skipped
 * in a shallow clone. (Was the second case of upgrade-dev.test.ts.)
 */
import { credsAuthenticator } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterAll, describe, expect, it } from "vitest";
import { createDevProject, type DevProject } from "../../harness/dev-project";
import { missingRevision, withProgramAt } from "./prod-project";
import { runPulumi, stackOutputs } from "../../harness/pulumi-cli";
import { eventually } from "../support/eventually";
import { stackCa, stackClientTls } from "../../harness/stack-tls";
import { changedSteps, useConfigOf } from "./upgrade-support";

/** The last release that landed before accounts per service and pushed JWTs. */
const SHARED_ACCOUNT_RELEASE = "df3799b3da688c28a84cca46aa59a55632f008f7";
const NET2 = "127.0.153";
const SKIP2 = missingRevision(SHARED_ACCOUNT_RELEASE);
if (SKIP2) console.warn(`upgrade-accounts-dev: skipped: ${SKIP2}`);

const enc = new TextEncoder();

describe.skipIf(SKIP2 !== "")("upgrading a running dev stack with every service in PLATFORM to an account per service", () => {
  let p2: DevProject;
  afterAll(async () => {
    if (p2) await p2.cleanup();
  }, 300_000);

  it("takes one up: preview = up; no store or server replaced or deleted; every event acked before, during and after is in the aggregate exactly once; services keep their context names", async () => {
    p2 = createDevProject("cim-nats-upgrade-accounts-");
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
