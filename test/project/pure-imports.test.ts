/**
 * The pure core is pure by imports, not by intent (DESIGN.md "Code shape"): every module declared
 * pure below reaches — through its relative imports, transitively — no Pulumi package, no NATS
 * transport or client API and no child_process (test/support/import-graph.ts walks the real
 * import graph with the TypeScript parser). A failure names the whole chain.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { forbiddenChains } from "../support/import-graph";
import { PROJECT_ROOT } from "../support/stack-config";

/** Modules that compute configs, checks, diffs and renderings: data in, data out. */
const PURE_MODULES = [
  "components/config/errors.ts",
  "components/config/units.ts",
  "components/stack/config-schema.ts",
  "components/config/durability.ts",
  "components/stack/config-reference.ts",
  "components/jetstream/spec.ts",
  "components/jetstream/stream-config.ts",
  "components/jetstream/kv-config.ts",
  "components/jetstream/object-store-config.ts",
  "components/jetstream/bucket-config.ts",
  "components/jetstream/consumer-config.ts",
  "components/jetstream/fields.ts",
  "components/jetstream/target.ts",
  "components/jetstream/store-kind.ts",
  "components/provider/canonical.ts",
  "components/jetstream/types.ts",
  "components/jetstream/resource-id.ts",
  "components/jetstream/locations.ts",
  "components/jetstream/aggregate.ts",
  "components/jetstream/data-loss.ts",
  "components/jetstream/data-loss-plan.ts",
  "components/render/remote-identity.ts",
  "components/local/update-plan.ts",
  "components/local/local-server-types.ts",
  "components/topology/index.ts",
  "components/render/reload-rules.ts",
  "components/security/account-links.ts",
  "components/security/bound-users.ts",
  "components/security/claims.ts",
  "components/security/contexts.ts",
  "components/security/declared-users.ts",
  "components/security/derived-users.ts",
  "components/security/identity-plan.ts",
  "components/security/inboxes.ts",
  "components/security/leaf-capacity.ts",
  "components/security/leaf-links.ts",
  "components/security/parse.ts",
  "components/security/permissions.ts",
  "components/security/provided-identities.ts",
  "components/security/server-security.ts",
  "components/security/service-accounts.ts",
  "components/security/service-grants.ts",
  "components/security/units.ts",
  "components/subjects/index.ts",
  "components/proxmox/parse.ts",
  "components/proxmox/ipv4.ts",
  "components/proxmox/import-file.ts",
  "components/deploy/files.ts",
  "components/deploy/scripts.ts",
  "components/deploy/build-script.ts",
  "components/deploy/host-deployment.ts",
  "components/deploy/rebuild-order.ts",
  "components/deploy/outputs.ts",
  "components/stack/stack-model.ts",
  "components/stack/durability-picture.ts",
  "components/verify/rewind.ts",
  "components/verify/checks.ts",
];

describe("pure modules", () => {
  it.each(PURE_MODULES)("%s imports no Pulumi, NATS transport or child_process code, directly or through its imports", (module) => {
    expect(forbiddenChains(path.join(PROJECT_ROOT, module), PROJECT_ROOT)).toEqual([]);
  });

  it("names the chain that leads to a forbidden import, through re-exports, type imports and require", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pure-imports-"));
    try {
      fs.mkdirSync(path.join(dir, "lib"));
      fs.writeFileSync(path.join(dir, "a.ts"), 'import { b } from "./lib";\nexport const a = b;\n');
      fs.writeFileSync(path.join(dir, "lib", "index.ts"), 'export * from "./b";\n');
      fs.writeFileSync(path.join(dir, "lib", "b.ts"), 'import type * as pulumi from "@pulumi/pulumi";\nimport { c } from "./c";\nexport const b: pulumi.Input<string> = c;\n');
      fs.writeFileSync(path.join(dir, "lib", "c.ts"), 'const cp = require("node:child_process");\nexport const c = String(cp);\nimport("@nats-io/transport-node");\n');
      expect(forbiddenChains(path.join(dir, "a.ts"), dir).sort()).toEqual([
        "a.ts → lib/index.ts → lib/b.ts → @pulumi/pulumi",
        "a.ts → lib/index.ts → lib/b.ts → lib/c.ts → @nats-io/transport-node",
        "a.ts → lib/index.ts → lib/b.ts → lib/c.ts → node:child_process",
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
