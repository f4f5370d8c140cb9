/**
 * The CID service as one CommonJS file for a prod host (no npm, no node_modules there):
 * components/cid/service-main.ts and its dependencies (nats.js, multiformats) bundled by esbuild
 * (tsx's own dependency, already installed). Deterministic for the same sources, so the deploy
 * copies it only when the code changed.
 */
import * as path from "node:path";

export function bundleCidService(root = path.resolve(__dirname, "..", "..")): string {
  const esbuild = require(require.resolve("esbuild", { paths: [root] })) as typeof import("esbuild");
  const result = esbuild.buildSync({
    entryPoints: [path.join(root, "components", "cid", "service-main.ts")],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node22",
    write: false,
    legalComments: "none",
    logLevel: "silent",
    banner: { js: "// cim-nats CID object service, bundled from components/cid/service-main.ts" },
  });
  return result.outputFiles[0].text;
}
