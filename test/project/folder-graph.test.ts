/**
 * The folders of components/ form layers (issue 23): no folder imports a folder that imports it,
 * directly (a two-way pair) or through others. A capability owns its config section, and shared
 * plumbing sits in a folder below its users (components/provider/), so a new import that closes a
 * loop is a design question, not a convenience. The imports are the TypeScript parser's
 * (test/support/import-graph.ts), type-only ones included; a failure prints each cycle with the
 * imports that make it.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { describeCycle, folderCycles, folderGraph } from "../support/import-graph";
import { PROJECT_ROOT } from "../support/stack-config";

const COMPONENTS = path.join(PROJECT_ROOT, "components");

describe("the folder graph of components/", () => {
  it("has no cycle: no two folders import each other, directly or through others", () => {
    const cycles = folderCycles(COMPONENTS).map(describeCycle);
    expect(cycles, `folders that import each other:\n${cycles.join("\n")}`).toEqual([]);
  });

  it("keeps config/ below every capability: it imports only subjects/", () => {
    expect([...(folderGraph(COMPONENTS).get("config")?.keys() ?? [])]).toEqual(["subjects"]);
  });

  it("finds a two-way pair and a longer cycle in a tree that has them, and names the imports", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "folder-graph-"));
    try {
      const write = (file: string, text: string) => {
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        fs.writeFileSync(path.join(dir, file), text);
      };
      write("config/schema.ts", 'import { KEYS } from "../jetstream/keys";\nexport const schema = KEYS;\n');
      write("jetstream/keys.ts", 'import type { Size } from "../config/units";\nexport const KEYS: Size[] = [];\n');
      write("config/units.ts", "export type Size = number;\n");
      write("a/x.ts", 'export { y } from "../b";\n');
      write("b/index.ts", 'export const y = require("../c/z");\n');
      write("c/z.ts", 'export const z = import("../a/x");\n');
      write("d/leaf.ts", 'import "../config/units";\n');
      expect(folderCycles(dir).map(describeCycle)).toEqual([
        ["a → b → c → a", "  a → b: a/x.ts → b/index.ts", "  b → c: b/index.ts → c/z.ts", "  c → a: c/z.ts → a/x.ts"].join("\n"),
        ["config → jetstream → config", "  config → jetstream: config/schema.ts → jetstream/keys.ts", "  jetstream → config: jetstream/keys.ts → config/units.ts"].join("\n"),
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
