/** Writes docs/config.md and schema/pulumi-stack.schema.json from the stack config schema (components/stack/config-schema.ts). */
import * as fs from "node:fs";
import * as path from "node:path";
import { configReferenceMarkdown, STACK_SCHEMA_PATH, stackJsonSchema } from "../components/stack/config-reference";

const root = path.join(__dirname, "..");
fs.mkdirSync(path.join(root, path.dirname(STACK_SCHEMA_PATH)), { recursive: true });
fs.writeFileSync(path.join(root, STACK_SCHEMA_PATH), `${JSON.stringify(stackJsonSchema(), null, 2)}\n`);
fs.writeFileSync(path.join(root, "docs", "config.md"), configReferenceMarkdown());
console.log(`wrote ${STACK_SCHEMA_PATH} and docs/config.md`);
