/**
 * The stack config schema (components/stack/config-schema.ts, assembled from each capability's
 * schema.ts) and what comes from it: the committed JSON Schema of Pulumi.<stack>.yaml accepts
 * both stack files and flags a typo, and the committed docs/config.md and schema file are what
 * the schema generates today (`npm run gen:config`).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { configReferenceMarkdown, STACK_SCHEMA_PATH, stackJsonSchema } from "../../components/stack/config-reference";
import { DEFAULT_CID_HEALTH_PORT } from "../../components/cid/schema";
import { DEFAULT_DATA_MOUNT_PATH, DEFAULT_TEMPLATE_DATASTORE } from "../../components/proxmox/config";
import {
  DEFAULT_DATA_DIR,
  DEFAULT_HUB_CLUSTER,
  DEFAULT_HUB_DOMAIN,
  DEFAULT_HUB_JETSTREAM,
  DEFAULT_HUB_PORTS,
  DEFAULT_HUB_REPLICAS,
  DEFAULT_LAME_DUCK_SECONDS,
  DEFAULT_LEAF_JETSTREAM,
  DEFAULT_LEAF_PORTS,
} from "../../components/topology/schema";
import { PROJECT_ROOT } from "../support/stack-config";

const committed = JSON.parse(readFileSync(join(PROJECT_ROOT, STACK_SCHEMA_PATH), "utf8"));
const validate = new Ajv({ allErrors: true }).compile(committed);
const stackFile = (stack: string) => readFileSync(join(PROJECT_ROOT, `Pulumi.${stack}.yaml`), "utf8");
const stackDoc = (stack: string) => load(stackFile(stack)) as { config: Record<string, Record<string, unknown>> };
const errors = (doc: unknown): ErrorObject[] => (validate(doc) ? [] : (validate.errors ?? []));

describe("the JSON Schema of Pulumi.<stack>.yaml", () => {
  it.each(["dev", "prod"])("Pulumi.%s.yaml validates against it and names it for the YAML language server", (stack) => {
    expect(errors(stackDoc(stack))).toEqual([]);
    expect(stackFile(stack).split("\n")[0]).toBe(`# yaml-language-server: $schema=./${STACK_SCHEMA_PATH}`);
  });

  it.each([
    ["a misspelt host field", (d: ReturnType<typeof stackDoc>) => ((d.config["cim-nats:topology"].hosts as Record<string, unknown>[])[0].adress = "10.0.0.9"), "/config/cim-nats:topology/hosts/0", "adress"],
    ["a misspelt section key", (d: ReturnType<typeof stackDoc>) => (d.config["cim-nats:topolgy"] = {}), "/config", "cim-nats:topolgy"],
    ["a misspelt binding", (d: ReturnType<typeof stackDoc>) => ((d.config["cim-nats:security"].users as Record<string, unknown>[])[0].publish_es = ["X"]), "/config/cim-nats:security/users/0", "publish_es"],
    ["a size nats-server refuses", (d: ReturnType<typeof stackDoc>) => ((d.config["cim-nats:topology"].leaf as { jetstream: Record<string, unknown> }).jetstream.maxFile = "1.5G"), "/config/cim-nats:topology/leaf/jetstream/maxFile", ""],
    ["a duration nats-server refuses", (d: ReturnType<typeof stackDoc>) => ((d.config["cim-nats:jetstream"].streams as Record<string, unknown>[])[0].max_age = "30d"), "/config/cim-nats:jetstream/streams/0/max_age", ""],
  ])("flags %s, at its path", (_, edit, instancePath, key) => {
    const doc = stackDoc("dev");
    edit(doc);
    const found = errors(doc);
    expect(found.length).toBeGreaterThan(0);
    const at = found.filter((e) => e.instancePath === instancePath);
    expect(at.length).toBeGreaterThan(0);
    if (key) expect(JSON.stringify(at)).toContain(key);
  });

  it("other namespaces' keys are left to their owners", () => {
    const doc = stackDoc("prod");
    doc.config["proxmoxve:endpoint"] = "https://pve:8006/" as never;
    expect(errors(doc)).toEqual([]);
  });
});

describe("generated files are current (npm run gen:config rewrites them)", () => {
  it(`${STACK_SCHEMA_PATH} is what the schema generates`, () => {
    expect(committed).toEqual(JSON.parse(JSON.stringify(stackJsonSchema())));
  });

  it("docs/config.md is what the schema generates", () => {
    expect(readFileSync(join(PROJECT_ROOT, "docs", "config.md"), "utf8")).toBe(configReferenceMarkdown());
  });
});

describe("the schema's defaults are the parsers' defaults", () => {
  const config = (stackJsonSchema().properties as Record<string, { properties: Record<string, JsonNode> }>).config.properties;
  type JsonNode = { default?: unknown; properties?: Record<string, JsonNode>; items?: JsonNode; anyOf?: JsonNode[]; additionalProperties?: JsonNode };
  /** The object fields under a node: its own, its items', a map's values' or a union member's. */
  const fields = (node: JsonNode): Record<string, JsonNode> | undefined =>
    node.properties ?? (node.items && fields(node.items)) ?? (node.additionalProperties && fields(node.additionalProperties)) ?? node.anyOf?.map(fields).find(Boolean);
  const at = (key: string, ...path: string[]): unknown => {
    let node: JsonNode = config[key];
    for (const p of path) node = fields(node)?.[p] ?? {};
    return node.default;
  };

  it.each([
    [["cim-nats:topology", "hub", "cluster"], DEFAULT_HUB_CLUSTER],
    [["cim-nats:topology", "hub", "domain"], DEFAULT_HUB_DOMAIN],
    [["cim-nats:topology", "hub", "replicas"], DEFAULT_HUB_REPLICAS],
    [["cim-nats:topology", "dataDir"], DEFAULT_DATA_DIR],
    [["cim-nats:topology", "lameDuck", "durationSeconds"], DEFAULT_LAME_DUCK_SECONDS],
    ...Object.entries(DEFAULT_HUB_PORTS).map(([k, v]) => [["cim-nats:topology", "hub", "ports", k], v] as const),
    ...Object.entries(DEFAULT_LEAF_PORTS).map(([k, v]) => [["cim-nats:topology", "leaf", "ports", k], v] as const),
    ...Object.entries(DEFAULT_HUB_JETSTREAM).map(([k, v]) => [["cim-nats:topology", "hub", "jetstream", k], v] as const),
    ...Object.entries(DEFAULT_LEAF_JETSTREAM).map(([k, v]) => [["cim-nats:topology", "leaf", "jetstream", k], v] as const),
    [["cim-nats:cidService", "healthPort"], DEFAULT_CID_HEALTH_PORT],
    [["cim-nats:proxmox", "dataMountPath"], DEFAULT_DATA_MOUNT_PATH],
    [["cim-nats:proxmox", "templates", "datastore"], DEFAULT_TEMPLATE_DATASTORE],
  ] as const)("%j defaults to %j", (path, value) => {
    const [key, ...rest] = path;
    expect(at(key, ...rest)).toEqual(value);
  });
});
