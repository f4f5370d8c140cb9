/**
 * The config schema (components/config/schema.ts) and what comes from it: the committed JSON
 * Schema of Pulumi.<stack>.yaml accepts both stack files and flags a typo, and the committed
 * docs/config.md and schema file are what the schema generates today (`npm run gen:config`).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { configReferenceMarkdown, STACK_SCHEMA_PATH, stackJsonSchema } from "../../components/config/reference";
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
