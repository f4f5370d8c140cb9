/**
 * Dynamic providers as small closures. Pulumi serializes a provider object's methods with
 * everything they capture (pulumi/pulumi#10480: capturing module objects breaks that), and the
 * provider process is plain node with no TypeScript loader. So each method captures only the
 * path of its resource module RELATIVE to the project root (the folder holding Pulumi.yaml) and
 * export names, and at call time finds the project, registers tsx's CommonJS hook from the
 * project's own node_modules and `require`s the module; the module then loads its real
 * dependencies normally.
 *
 * State is portable (docs/dev.md): no absolute path is serialized, so state written from one
 * checkout works from another (a moved folder, a CI runner, a colleague's clone). The project
 * is found at call time from the provider process's working directory — the Pulumi engine
 * starts plugins in the project directory — walking up to Pulumi.yaml, and else from
 * `$CIM_NATS_ROOT` (set by scripts/with-env.sh and inherited by the provider process).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type * as pulumi from "@pulumi/pulumi";

/** Export names of a resource module's provider functions. */
export type ProviderExports = {
  readonly check: string;
  readonly diff: string;
  readonly create: string;
  readonly read: string;
  readonly update: string;
  readonly delete: string;
};

/** The export names a resource module uses for `resource`: `checkStream`, `diffStream`, … `deleteStream`. */
export function providerExports(resource: string): ProviderExports {
  return { check: `check${resource}`, diff: `diff${resource}`, create: `create${resource}`, read: `read${resource}`, update: `update${resource}`, delete: `delete${resource}` };
}

/** `file`'s path relative to the nearest folder above it that holds Pulumi.yaml (the project root), with `/`. */
export function projectRelativePath(file: string): string {
  const real = fs.existsSync(file) ? fs.realpathSync(file) : path.resolve(file);
  for (let dir = path.dirname(real); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "Pulumi.yaml")) || fs.existsSync(path.join(dir, "Pulumi.yml"))) {
      return path.relative(dir, real).split(path.sep).join("/");
    }
    if (path.dirname(dir) === dir) break;
  }
  throw new Error(`dynamic provider module ${real} is not inside a Pulumi project (no Pulumi.yaml above it)`);
}

/** A provider whose methods call the exported functions named in `exports` of `moduleFile` (under the project root). */
export function dynamicProvider(moduleFile: string, exports: ProviderExports): pulumi.dynamic.ResourceProvider {
  const relFile = projectRelativePath(moduleFile);
  const names = { ...exports };
  // Runs in the provider process at call time. Only strings are captured; node's modules are
  // required here, not captured (capturing them breaks serialization under vitest).
  const load = (): Record<string, (...args: unknown[]) => Promise<never>> => {
    const nodeFs: typeof import("node:fs") = require("node:fs");
    const nodePath: typeof import("node:path") = require("node:path");
    const tried: string[] = [];
    const candidates: string[] = [];
    for (let dir = process.cwd(); ; dir = nodePath.dirname(dir)) {
      if (nodeFs.existsSync(nodePath.join(dir, "Pulumi.yaml")) || nodeFs.existsSync(nodePath.join(dir, "Pulumi.yml"))) {
        candidates.push(dir);
        break;
      }
      if (nodePath.dirname(dir) === dir) break;
    }
    if (process.env.CIM_NATS_ROOT) candidates.push(process.env.CIM_NATS_ROOT);
    for (const root of candidates) {
      const file = nodePath.join(root, ...relFile.split("/"));
      tried.push(file);
      if (!nodeFs.existsSync(file)) continue;
      if (file.endsWith(".ts")) require(require.resolve("tsx/cjs", { paths: [root] }));
      return require(file);
    }
    throw new Error(
      `cannot find the provider module '${relFile}' of this project (tried: ${tried.join(", ") || "no Pulumi.yaml above " + process.cwd()}). ` +
        "Run pulumi from the project folder (or set CIM_NATS_ROOT to it).",
    );
  };
  return {
    check: (olds, news) => load()[names.check](olds, news),
    diff: (id, olds, news) => load()[names.diff](id, olds, news),
    create: (inputs) => load()[names.create](inputs),
    read: (id, props) => load()[names.read](id, props),
    update: (id, olds, news) => load()[names.update](id, olds, news),
    delete: (id, props) => load()[names.delete](id, props),
  };
}
