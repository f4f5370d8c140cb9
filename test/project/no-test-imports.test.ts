/**
 * Product code, benches and toolchain scripts import nothing from test/ (issue 23): what tests and
 * benches both need to run real parts (a throwaway dev project, the pinned Pulumi CLI, a single
 * server, a local topology) lives in harness/. Walks every file's real import specifiers.
 */
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { sourceFiles, specifiersOf } from "../support/import-graph";
import { PROJECT_ROOT } from "../support/stack-config";

describe("imports across the test boundary", () => {
  it("no file in components/, harness/, bench/, scripts/ or index.ts imports from test/", () => {
    const testDir = path.join(PROJECT_ROOT, "test") + path.sep;
    const files = [path.join(PROJECT_ROOT, "index.ts"), ...["components", "harness", "bench", "scripts"].flatMap((d) => sourceFiles(path.join(PROJECT_ROOT, d)))];
    expect(files.length).toBeGreaterThan(100);
    const crossing = files.flatMap((file) =>
      specifiersOf(file)
        .filter((s) => s.startsWith("."))
        .filter((s) => path.resolve(path.dirname(file), s).startsWith(testDir))
        .map((s) => `${path.relative(PROJECT_ROOT, file)} imports ${s}`),
    );
    expect(crossing).toEqual([]);
  });
});
