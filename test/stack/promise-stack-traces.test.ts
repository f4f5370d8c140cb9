import { afterEach, describe, expect, it } from "vitest";
import { plainPromiseStackTraces } from "../../components/stack/promise-stack-traces";

const original = Error.prepareStackTrace;
afterEach(() => {
  Error.prepareStackTrace = original;
});

describe("plainPromiseStackTraces", () => {
  it("formats the SDK's promise stacks without the mapper and leaves every other stack to it", async () => {
    const seen: string[] = [];
    Error.prepareStackTrace = (error, frames) => {
      seen.push(String(frames[0]?.getFileName()));
      return `MAPPED ${error.message}`;
    };
    plainPromiseStackTraces();
    plainPromiseStackTraces(); // idempotent: not wrapped twice

    // Internal to the SDK (stripped from its typings): the function whose stacks are made plain.
    const { debuggablePromise } = (await import("@pulumi/pulumi/runtime/debuggable")) as unknown as {
      debuggablePromise: <T>(p: Promise<T>, ctx: string) => Promise<T>;
    };
    const p = Promise.resolve(1) as Promise<number> & { _debugStackTrace?: string };
    await debuggablePromise(p, "test");
    expect(p._debugStackTrace).toMatch(/^Error\n    at debuggablePromise \(.*runtime[/\\]debuggable\.js:\d+:\d+\)/);

    expect(new Error("mine").stack).toBe("MAPPED mine");
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/promise-stack-traces\.test\.ts$/);
  });
});
