import { describe, expect, it } from "vitest";
import { stateBackendVerdict } from "../../components/stack/state-backend";

describe("stateBackendVerdict (a real-machines stack's state backend)", () => {
  const root = "/home/op/cim-nats";
  it.each([
    ["s3://cim-nats-state?endpoint=cimstor:9000&s3ForcePathStyle=true", undefined, {}],
    ["https://api.pulumi.com", undefined, {}],
    [undefined, undefined, {}],
  ])("%s: nothing to say", (url, allow, verdict) => expect(stateBackendVerdict("prod", url, root, allow)).toEqual(verdict));

  it("refuses with-env.sh's default, the git-ignored file in the checkout, naming the fix and the opt-out", () => {
    const v = stateBackendVerdict("prod", `file://${root}/.pulumi-state`, root, undefined);
    expect(v.refuse).toContain("stack 'prod' runs on real machines but its state is the local file backend /home/op/cim-nats/.pulumi-state, inside this checkout");
    expect(v.refuse).toContain("export PULUMI_BACKEND_URL=s3://");
    expect(v.refuse).toContain("pulumi stack export");
    expect(v.refuse).toContain("CIM_NATS_ALLOW_LOCAL_STATE=1");
  });

  it("only warns when explicitly allowed, or for a file backend outside the checkout", () => {
    expect(stateBackendVerdict("prod", `file://${root}/.pulumi-state`, root, "1")).toEqual({ warn: expect.stringContaining("only this machine sees it") });
    expect(stateBackendVerdict("prod", "file:///mnt/shared/state", root, undefined)).toEqual({ warn: expect.stringContaining("/mnt/shared/state") });
  });
});
