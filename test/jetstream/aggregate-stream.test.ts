/**
 * The AggregateStream component under Pulumi mocks: the hub Stream it declares (exact inputs:
 * no subjects, one source per leaf from the topology, hub domain) and the errors for settings
 * an aggregate cannot have. Its provider functions run against real servers in topology.test.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { AggregateStream, aggregateStreamConfig } from "../../components/jetstream/aggregate-stream";
import { parseTopology } from "../../components/topology/parse";
import { readStackConfig } from "../support/stack-config";

type Registered = { type: string; name: string; inputs: Record<string, unknown> };
const registered: Registered[] = [];

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    "cim-nats",
    "test",
    false,
  );
});

const topology = parseTopology(readStackConfig("dev").topology, { name: "dev" });
const settings = { name: "CLUSTER_PERSON_EVENTS", num_replicas: 3, storage: "file" as const, max_age: "2160h" };

const outputOf = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

describe("AggregateStream", () => {
  it("declares one hub Stream with no subjects and one source per leaf domain", async () => {
    const agg = new AggregateStream("cluster-person-events", {
      target: { servers: ["nats://127.0.0.41:4223"] },
      leafStream: { name: "PERSON_EVENTS", at: "leaves" },
      topology,
      config: settings,
    });
    await outputOf(agg.urn);
    await outputOf(agg.stream.urn);
    const stream = registered.find((r) => r.name === "cluster-person-events-stream")!;
    expect(stream.type).toBe("pulumi-nodejs:dynamic/jetstream:Stream");
    expect(stream.inputs).toMatchObject({
      name: "CLUSTER_PERSON_EVENTS",
      num_replicas: 3,
      storage: "file",
      max_age: "2160h",
      target: { servers: ["nats://127.0.0.41:4223"], domain: "hub" },
      sources: ["nats-1", "nats-2", "nats-3", "cimstor"].map((d) => ({ name: "PERSON_EVENTS", external: { api: `$JS.${d}.API` } })),
    });
    expect(stream.inputs.subjects).toBeUndefined();
    expect(typeof stream.inputs.__provider).toBe("string");
    expect(registered.find((r) => r.name === "cluster-person-events")?.type).toBe("cim-nats:jetstream:AggregateStream");
  });

  it.each(["subjects", "sources", "mirror"] as const)("refuses %s with an InputPropertiesError naming it", (key) => {
    const value = key === "subjects" ? ["person.events.>"] : key === "sources" ? [{ name: "X" }] : { name: "X" };
    let err: unknown;
    try {
      aggregateStreamConfig({ ...settings, [key]: value }, { name: "PERSON_EVENTS", at: "leaves" }, topology);
    } catch (e) {
      err = e;
    }
    expect(pulumi.InputPropertiesError.isInstance(err)).toBe(true);
    expect((err as pulumi.InputPropertiesError).errors).toEqual([{ propertyPath: `config.${key}`, reason: expect.stringMatching(new RegExp(`an aggregate has no ${key}`)) }]);
  });

  it("sources only the named hosts for a stream declared at a host list", () => {
    const cfg = aggregateStreamConfig(settings, { name: "PERSON_EVENTS", at: ["nats-2", "cimstor"] }, topology);
    expect(cfg.sources?.map((s) => s.external?.api)).toEqual(["$JS.nats-2.API", "$JS.cimstor.API"]);
  });
});
