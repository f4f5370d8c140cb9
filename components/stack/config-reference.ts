/**
 * What the stack config schema (config-schema.ts) gives users: the JSON Schema of Pulumi.<stack>.yaml, for
 * editors (YAML language server), and the reference tables of docs/config.md. Both are committed
 * and kept current by test/config/schema.test.ts; `npm run gen:config` rewrites them. Pure.
 */
import { z } from "zod";
import { DURATION_HINT, sizeHint } from "../config/units";
import { stackConfigSchema } from "./config-schema";

type JsonSchema = {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  additionalProperties?: boolean | JsonSchema;
  [key: string]: unknown;
};

const toJson = (s: z.ZodType): JsonSchema => z.toJSONSchema(s, { target: "draft-7", io: "input", unrepresentable: "any" }) as JsonSchema;

const REQUIRED_KEYS = ["cim-nats:topology", "cim-nats:security"] as const;

/** Where the committed JSON Schema lives, relative to the project root. */
export const STACK_SCHEMA_PATH = "schema/pulumi-stack.schema.json";

/**
 * The JSON Schema of Pulumi.<stack>.yaml: every `cim-nats:*` key with its section's schema; an
 * unknown `cim-nats:` key is refused (a typo), other namespaces' keys are left to their owners.
 */
export function stackJsonSchema(): JsonSchema {
  const keys = Object.keys(stackConfigSchema);
  const properties: Record<string, JsonSchema> = {};
  for (const [key, schema] of Object.entries(stackConfigSchema)) {
    const { $schema: _, ...rest } = toJson(schema as z.ZodType);
    properties[key] = rest;
  }
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: "Pulumi.<stack>.yaml of cim-nats",
    description: "Stack settings of the cim-nats project; docs/config.md has the same reference as tables.",
    type: "object",
    properties: {
      config: {
        type: "object",
        properties,
        required: [...REQUIRED_KEYS],
        propertyNames: { anyOf: [{ enum: keys }, { not: { pattern: "^cim-nats:" } }] },
      },
      encryptionsalt: { type: "string" },
      encryptedkey: { type: "string" },
      secretsprovider: { type: "string" },
      environment: {},
    },
  };
}

/** A short type label: `string`, `integer ≥ 1`, `[string]`, `size`, `leaf | hub`. */
function typeLabel(s: JsonSchema): string {
  if (s.title) return s.title;
  if (s.enum) return s.enum.map((e) => String(e)).join(" | ");
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.anyOf) return s.anyOf.map(typeLabel).join(" or ");
  if (s.type === "array") return `[${s.items ? typeLabel(s.items) : "…"}]`;
  if (s.type === "object" && s.additionalProperties && typeof s.additionalProperties === "object" && !s.properties) return `map of ${typeLabel(s.additionalProperties)}`;
  if (s.type === "integer") {
    const lo = s.minimum as number | undefined;
    const hi = s.maximum === Number.MAX_SAFE_INTEGER ? undefined : (s.maximum as number | undefined);
    return lo !== undefined && hi !== undefined ? `integer ${lo}–${hi}` : lo !== undefined ? `integer ≥ ${lo}` : "integer";
  }
  if (typeof s.type === "string") return s.type;
  return "any";
}

/** The object schemas reachable through arrays, maps and unions of `s`. */
function objectOf(s: JsonSchema): JsonSchema | undefined {
  if (s.properties) return s;
  if (s.items) return objectOf(s.items);
  if (typeof s.additionalProperties === "object") return objectOf(s.additionalProperties);
  for (const a of s.anyOf ?? []) {
    const o = objectOf(a);
    if (o) return o;
  }
  return undefined;
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** One table per object, depth first: `path | type | default | description`. */
function tables(path: string, s: JsonSchema, out: string[]): void {
  const obj = objectOf(s);
  if (!obj?.properties) return;
  const required = new Set(obj.required ?? []);
  const documented = Object.entries(obj.properties);
  out.push(`### \`${path}\``, "", "| field | type | default | description |", "|---|---|---|---|");
  for (const [key, f] of documented) {
    const dflt = required.has(key) ? "**required**" : f.default !== undefined ? `\`${JSON.stringify(f.default)}\`` : "";
    out.push(`| \`${key}\` | ${cell(typeLabel(f))} | ${cell(dflt)} | ${cell(f.description ?? "")} |`);
  }
  out.push("");
  for (const [key, f] of documented) {
    const sub = f.type === "array" ? `${key}[]` : typeof f.additionalProperties === "object" ? `${key}.<name>` : key;
    if (objectOf(f)) tables(`${path}.${sub}`, f, out);
  }
}

/** docs/config.md: the grammars, then one table per section and nested object. */
export function configReferenceMarkdown(): string {
  const schema = stackJsonSchema();
  const config = (schema.properties as Record<string, JsonSchema>).config.properties!;
  const out = [
    "# Stack config reference",
    "",
    "<!-- Generated from components/stack/config-schema.ts (each section declared beside its parser) by `npm run gen:config`; test/config/schema.test.ts fails when it is stale. -->",
    "",
    "Every `cim-nats:*` key of `Pulumi.<stack>.yaml`. Editors with the YAML language server check and",
    `complete these files from \`${STACK_SCHEMA_PATH}\` (the \`# yaml-language-server: $schema=…\` line at their top).`,
    "The stack validates the same fields on `preview`/`up`, plus the rules across fields and sections",
    "(hub replicas vs. hub members, bindings naming declared streams, unique vmids and addresses).",
    "",
    "## Sizes and durations",
    "",
    `- **size**: ${sizeHint({ unlimited: true })} where a limit can be off.`,
    "  The form nats-server reads: no fractions (`1.5G`: write `1500M`), no `GB`/`GiB`, capitals only.",
    `- **duration**: ${DURATION_HINT}; \`0\` alone is zero.`,
    "  Go's form, as nats-server reads it: no `d` or `w` (write `720h` for 30 days).",
    "",
    "## Keys",
    "",
    "| key | type | default | description |",
    "|---|---|---|---|",
  ];
  const required = new Set<string>(REQUIRED_KEYS);
  for (const [key, f] of Object.entries(config)) {
    const dflt = required.has(key) ? "**required**" : f.default !== undefined ? `\`${JSON.stringify(f.default)}\`` : "";
    out.push(`| \`${key}\` | ${cell(objectOf(f) && !f.title ? "object" : typeLabel(f))} | ${dflt} | ${cell(f.description ?? "")} |`);
  }
  out.push("", "## Sections", "");
  for (const [key, f] of Object.entries(config)) if (objectOf(f) && !f.title) tables(key.replace(/^cim-nats:/, ""), f, out);
  return `${out.join("\n").replace(/\n+$/, "")}\n`;
}
