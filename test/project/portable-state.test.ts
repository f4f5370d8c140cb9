/**
 * Portable state (issue 9 item 7): dynamic providers resolve their code from the project at call
 * time (components/provider/provider-loader.ts), so the state holds no absolute path and a stack
 * made from one checkout is refreshed, previewed and destroyed from another. Real CLI: `up` in a
 * throwaway project that uses the project's real provider loader with a TypeScript CRUD module,
 * rename the project folder, then refresh, preview (no changes) and destroy.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT, resourceSummary, type PulumiContext } from "../../harness/pulumi-cli";
import { createThrowaway, pulumi, toolchainMissing, type Throwaway } from "./throwaway";

const PROGRAM = `
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { dynamicProvider } from "./components/provider/provider-loader";

const provider = dynamicProvider(path.join(__dirname, "fixtures", "note-crud.ts"), {
    check: "checkNote", diff: "diffNote", create: "createNote", read: "readNote", update: "updateNote", delete: "deleteNote",
});

class Note extends pulumi.dynamic.Resource {
    public readonly text!: pulumi.Output<string>;
    constructor(name: string, args: { file: string; text: string }) {
        super(provider, name, args, {});
    }
}

export const text = new Note("note", { file: process.env.CIM_NATS_NOTE!, text: "hello" }).text;
`;

const missing = toolchainMissing();

describe.skipIf(missing !== "")(`state written from one checkout works from another${missing ? ` (skipped: ${missing})` : ""}`, () => {
  let project: Throwaway;
  let note: string;
  let moved: PulumiContext;
  let movedDir: string;

  beforeAll(async () => {
    project = createThrowaway("portable", {
      "index.ts": PROGRAM,
      "components/provider/provider-loader.ts": fs.readFileSync(path.join(PROJECT_ROOT, "components", "provider", "provider-loader.ts"), "utf8"),
      "fixtures/note-crud.ts": fs.readFileSync(path.join(__dirname, "fixtures", "note-crud.ts"), "utf8"),
    });
    note = path.join(project.dir, "note.txt");
    (project.context.env as NodeJS.ProcessEnv).CIM_NATS_NOTE = note;
    movedDir = path.join(project.dir, "moved-checkout");
    moved = { cwd: movedDir, env: project.context.env };
    await pulumi(project.context, ["stack", "init", "t"]);
  });

  afterAll(() => {
    fs.rmSync(project.dir, { recursive: true, force: true });
  });

  it("up from the first path writes no absolute project path into the state", async () => {
    await pulumi(project.context, ["up", "--yes", "--skip-preview", "-s", "t"]);
    expect(fs.readFileSync(note, "utf8")).toBe("hello");
    const state = (await pulumi(project.context, ["stack", "export", "-s", "t"])).stdout;
    expect(state).not.toContain(project.projectDir);
    // The serialized provider names its module relative to the project, and no folder of ours.
    type Res = { type: string; inputs?: Record<string, unknown> };
    const resources = (JSON.parse(state) as { deployment: { resources: Res[] } }).deployment.resources;
    const serialized = String(resources.find((r) => r.type === "pulumi-nodejs:dynamic:Resource")?.inputs?.__provider ?? "");
    expect(serialized).toContain("fixtures/note-crud.ts");
    expect(serialized).not.toContain(project.dir);
    expect(serialized).not.toContain(PROJECT_ROOT);
  }, 180_000);

  it("after the project folder is moved, refresh, preview and destroy succeed", async () => {
    fs.renameSync(project.projectDir, movedDir);
    // Out-of-band change: refresh must really call the provider's read (load the module) to see it.
    fs.writeFileSync(note, "changed by hand");
    const refresh = await pulumi(moved, ["refresh", "--yes", "--skip-preview", "-s", "t"]);
    expect(resourceSummary(refresh.stdout)).toMatchObject({ update: 1 });
    const preview = await pulumi(moved, ["preview", "--diff", "-s", "t"]);
    // Only the note's text differs (put back to "hello"); the serialized provider is unchanged.
    expect(resourceSummary(preview.stdout)).toMatchObject({ update: 1, unchanged: 1 });
    expect(preview.stdout).toContain("text");
    expect(preview.stdout).not.toContain("__provider");
    await pulumi(moved, ["destroy", "--yes", "--skip-preview", "-s", "t"]);
    expect(fs.existsSync(note)).toBe(false);
  }, 240_000);
});
