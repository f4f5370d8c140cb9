/**
 * Dynamic providers as small closures. Pulumi serializes a provider object's methods with
 * everything they capture (pulumi/pulumi#10480: capturing module objects breaks that), and the
 * provider process is plain node with no TypeScript loader. So each method only captures the
 * absolute path of its resource module, the path of tsx's CommonJS hook and export names, and
 * `require`s the module at call time; the module then loads its real dependencies normally.
 */
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

/** tsx's CommonJS register hook, resolved now so the provider process needs no lookup. */
function tsxHook(): string {
  try {
    return require.resolve("tsx/cjs");
  } catch {
    return "";
  }
}

/** A provider whose methods call `moduleFile`'s exported functions named in `exports`. */
export function dynamicProvider(moduleFile: string, exports: ProviderExports): pulumi.dynamic.ResourceProvider {
  const file = moduleFile;
  const hook = file.endsWith(".ts") ? tsxHook() : "";
  const names = { ...exports };
  const load = (): Record<string, (...args: unknown[]) => Promise<never>> => {
    if (hook) require(hook);
    return require(file);
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
