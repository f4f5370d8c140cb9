import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterEach, describe, expect, it } from "vitest";
import { plainPromiseStackTraces } from "../../components/stack/promise-stack-traces";
import { PROJECT_ROOT } from "../../harness/pulumi-cli";

const original = Error.prepareStackTrace;
afterEach(() => {
  Error.prepareStackTrace = original;
});

describe("plainPromiseStackTraces", () => {
  it("formats the SDK's promise stacks without the mapper and leaves every other stack to it", async () => {
    const seen: string[] = [];
    // A mapper as ts-node's: the message, then one line per frame.
    Error.prepareStackTrace = (error, frames) => {
      seen.push(String(frames[0]?.getFileName()));
      return [`MAPPED ${error.message}`, ...frames.map(() => "    at MAPPED")].join("\n");
    };
    plainPromiseStackTraces();
    plainPromiseStackTraces(); // idempotent: not wrapped twice

    // Internal to the SDK (stripped from its typings): the function whose stacks are made plain.
    const { debuggablePromise } = (await import("@pulumi/pulumi/runtime/debuggable")) as unknown as {
      debuggablePromise: <T>(p: Promise<T>, ctx: string) => Promise<T>;
    };
    const { promiseDebugString } = (await import("@pulumi/pulumi/runtime/debuggable")) as unknown as { promiseDebugString: (p: Promise<unknown>) => string };
    const p = Promise.resolve(1) as Promise<number> & { _debugStackTrace?: unknown };
    await debuggablePromise(p, "test");
    // Not formatted until read; the SDK's leak report reads it as text.
    expect(typeof p._debugStackTrace).toBe("object");
    expect(promiseDebugString(p)).toMatch(/STACK_TRACE:\nError\n    at debuggablePromise \(.*runtime[/\\]debuggable\.js:\d+:\d+\)/);
    expect(String(p._debugStackTrace).split("\n").length).toBeLessThanOrEqual(1 + 8); // the header and LEAK_REPORT_FRAMES at most

    // Its own frame stays mapped (vitest's, in node_modules, do not: see below).
    expect(new Error("mine").stack!.split("\n").slice(0, 2)).toEqual(["MAPPED mine", "    at MAPPED"]);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/promise-stack-traces\.test\.ts$/);
  });
});

describe("withPlainDependencyFrames", () => {
  it("puts frames inside node_modules back to their real .js line and keeps the project's mapped ones", async () => {
    // The SDK's maps name `../output.ts`: a mapped SDK frame reads node_modules/@pulumi/output.ts.
    const mapper = (error: Error, frames: NodeJS.CallSite[]) =>
      [`${error.name}: ${error.message}`, ...frames.map((f) => `    at ${String(f.getFileName()).replace(/[/\\]pulumi[/\\]output\.js$/, "/output.ts").replace(/\.test\.ts$/, ".MAPPED.ts")}:1:1`)].join("\n");
    Error.prepareStackTrace = mapper;
    plainPromiseStackTraces();
    const stack = await new Promise<string>((resolve) => pulumi.output(1).apply(() => resolve(new Error("thrown in an apply").stack!)));
    const lines = stack.split("\n");
    expect(lines[0]).toBe("Error: thrown in an apply");
    expect(lines[1]).toMatch(/promise-stack-traces\.MAPPED\.ts:1:1$/);
    expect(lines.filter((l) => /node_modules[/\\]@pulumi[/\\]pulumi[/\\]output\.js:\d+:\d+\)?$/.test(l)).length).toBeGreaterThan(0);
    expect(stack).not.toContain("@pulumi/output.ts");
  });

  it("an error thrown in an apply prints (util.inspect with colors, as the SDK reports it) under the program's real ts-node", () => {
    // In a child: Node 22.23's inspect loops forever on a mis-mapped SDK frame (nodejs/node#64011).
    const sdk = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
    const script = `
      require(${JSON.stringify(path.join(sdk, "vendor", "ts-node@7.0.1"))}).register({ compiler: ${JSON.stringify(require.resolve("typescript"))}, transpileOnly: true, skipProject: true, compilerOptions: { target: "ES2020", module: "commonjs", sourceMap: "true" } });
      const pulumi = require("@pulumi/pulumi");
      require(${JSON.stringify(path.join(PROJECT_ROOT, "components", "stack", "promise-stack-traces.ts"))}).plainPromiseStackTraces();
      process.on("unhandledRejection", (e) => { process.stdout.write(require("node:util").inspect(e, { colors: true })); process.exit(0); });
      pulumi.output(1).apply(() => { throw new Error("thrown in an apply"); });
    `;
    const out = execFileSync(process.execPath, ["-e", script], { cwd: PROJECT_ROOT, timeout: 30_000, encoding: "utf8" });
    expect(out).toContain("Error: thrown in an apply");
    expect(out.replace(/\x1b\[\d+m/g, "")).toMatch(/node_modules\/@pulumi\/pulumi\/output\.js:\d+:\d+/);
  }, 40_000);

  it("under the real ts-node, maps only the kept frames and prints the same stack as mapping all of them", () => {
    // A TypeScript file whose JS lines differ from its TS lines (erased types), called back from
    // inside the SDK (output.js): own frames with SDK callers, SDK frames with own callers.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-stack-"));
    const fixture = path.join(dir, "probe.ts");
    fs.writeFileSync(fixture, [
      "type Done = (e: Error) => void;",
      "interface Sdk {",
      "  output(v: number): { apply(f: (v: number) => void): unknown };",
      "}",
      "function probe(done: Done): void {",
      "  done(new Error(\"probe\"));",
      "}",
      "export function viaApply(sdk: Sdk, done: Done): void {",
      "  sdk.output(1).apply(() => probe(done));",
      "}",
      "",
    ].join("\n"));
    const sdk = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
    const script = `
      require(${JSON.stringify(path.join(sdk, "vendor", "ts-node@7.0.1"))}).register({ compiler: ${JSON.stringify(require.resolve("typescript"))}, transpileOnly: true, skipProject: true, compilerOptions: { target: "ES2020", module: "commonjs", sourceMap: "true" } });
      const pulumi = require("@pulumi/pulumi");
      const { withPlainDependencyFrames } = require(${JSON.stringify(path.join(PROJECT_ROOT, "components", "stack", "promise-stack-traces.ts"))});
      const mapped = Error.prepareStackTrace;
      let captured;
      Error.prepareStackTrace = (error, frames) => { captured = { error, frames }; return ""; };
      require(${JSON.stringify(fixture)}).viaApply(pulumi, (e) => {
        e.stack;
        Error.prepareStackTrace = mapped;
        const { error, frames } = captured;
        // What the format was before only the kept frames were mapped: all mapped, dependencies put back.
        const all = mapped(error, frames).split("\\n");
        const first = all.length - frames.length;
        const expected = all.map((line, i) => i >= first && frames[i - first].getFileName()?.includes("/node_modules/") ? "    at " + frames[i - first] : line).join("\\n");
        process.stdout.write(JSON.stringify({ expected, actual: withPlainDependencyFrames(mapped)(error, frames) }));
      });
    `;
    try {
      const out = JSON.parse(execFileSync(process.execPath, ["-e", script], { cwd: PROJECT_ROOT, timeout: 30_000, encoding: "utf8" })) as { expected: string; actual: string };
      const lines = out.actual.split("\n");
      expect(lines[0]).toBe("Error: probe");
      // Own frames mapped to their TypeScript lines (the JS lines are 4 fewer), the SDK's plain.
      expect(lines[1]).toMatch(/at probe \(.*probe\.ts:6:8\)$/);
      expect(lines.some((l) => /probe\.ts:9:\d+\)?$/.test(l))).toBe(true);
      expect(lines.some((l) => /node_modules\/@pulumi\/pulumi\/output\.js:\d+:\d+\)?$/.test(l))).toBe(true);
      expect(out.actual).toBe(out.expected);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);
});
