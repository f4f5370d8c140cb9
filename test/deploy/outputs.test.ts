import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { JetStreamNames, stackOutputs } from "../../components/deploy/outputs";
import { secretStackOutputs } from "../../components/deploy/secret-outputs";
import { prodFixture } from "../proxmox/fixtures";
import { installMocks, valueOf } from "../proxmox/mocks";

const LEAF_DOMAINS = ["nats-1", "nats-2", "nats-3", "cimstor"];
/** The prod stack's declared JetStream state (Pulumi.prod.yaml `cim-nats:jetstream`) as placements. */
const PROD_JETSTREAM: JetStreamNames = {
  streams: [
    { name: "PERSON_EVENTS", domains: LEAF_DOMAINS },
    { name: "CLUSTER_PERSON_EVENTS", domains: ["hub"] },
  ],
  kv: [
    { name: "PERSON_METADATA", domains: LEAF_DOMAINS },
    { name: "CLUSTER_METADATA", domains: ["hub"] },
  ],
  objects: [
    { name: "PERSON_OBJECTS", domains: LEAF_DOMAINS },
    { name: "CLUSTER_OBJECTS", domains: ["cimstor"] },
  ],
};

describe("stackOutputs of the prod stack", () => {
  it("has the documented shape and values", () => {
    expect(stackOutputs(prodFixture().topology, PROD_JETSTREAM)).toEqual({
      stack: "prod",
      leaves: {
        "nats-1": { host: "nats-1", clientUrl: "nats://10.0.0.41:4222", monitoringUrl: "http://127.0.0.1:8222", monitoringScope: "host", jetstreamDomain: "nats-1" },
        "nats-2": { host: "nats-2", clientUrl: "nats://10.0.0.42:4222", monitoringUrl: "http://127.0.0.1:8222", monitoringScope: "host", jetstreamDomain: "nats-2" },
        "nats-3": { host: "nats-3", clientUrl: "nats://10.0.0.43:4222", monitoringUrl: "http://127.0.0.1:8222", monitoringScope: "host", jetstreamDomain: "nats-3" },
        cimstor: { host: "cimstor", clientUrl: "nats://172.16.0.2:4222", monitoringUrl: "http://127.0.0.1:8222", monitoringScope: "host", jetstreamDomain: "cimstor" },
      },
      hub: {
        cluster: "cim-hub",
        jetstreamDomain: "hub",
        replicas: 3,
        clientUrls: ["nats://10.0.0.41:4223", "nats://10.0.0.42:4223", "nats://10.0.0.43:4223"],
        routeUrls: ["nats-route://10.0.0.41:6222", "nats-route://10.0.0.42:6222", "nats-route://10.0.0.43:6222"],
        leafnodeUrls: ["nats-leaf://10.0.0.41:7422", "nats-leaf://10.0.0.42:7422", "nats-leaf://10.0.0.43:7422"],
        // Loopback: each member's monitoring answers on its own host only.
        monitoringUrls: ["http://127.0.0.1:8223", "http://127.0.0.1:8223", "http://127.0.0.1:8223"],
        monitoringScopes: ["host", "host", "host"],
      },
      jetstream: {
        streams: { PERSON_EVENTS: LEAF_DOMAINS, CLUSTER_PERSON_EVENTS: ["hub"] },
        kv: { PERSON_METADATA: LEAF_DOMAINS, CLUSTER_METADATA: ["hub"] },
        objects: { PERSON_OBJECTS: LEAF_DOMAINS, CLUSTER_OBJECTS: ["cimstor"] },
      },
    });
  });

  it("is plain JSON (what `pulumi stack output --json` prints)", () => {
    const outputs = stackOutputs(prodFixture().topology, PROD_JETSTREAM);
    expect(JSON.parse(JSON.stringify(outputs))).toEqual(outputs);
  });
});

describe("secretStackOutputs (mocked runtime)", () => {
  beforeAll(async () => {
    await installMocks("prod");
  });

  it("creds and contexts are secret, leaf-link creds left out", async () => {
    const creds = { "person-service": "creds-a", "leaf-nats-1": "creds-link" };
    const contexts = { "nats-1": "{}", hub: "{}" };
    // Plain inputs on purpose: the outputs must be secret even if upstream forgot.
    const out = secretStackOutputs(creds, contexts, ["leaf-nats-1"]);
    expect(await pulumi.isSecret(out.creds)).toBe(true);
    expect(await pulumi.isSecret(out.natsContexts)).toBe(true);
    expect(await valueOf(out.creds)).toEqual({ "person-service": "creds-a" });
    expect(await valueOf(out.natsContexts)).toEqual(contexts);
  });
});
