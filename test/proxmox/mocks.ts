/**
 * Pulumi's mock monitor, recording every registered resource: its type, name, exact inputs,
 * provider, parent and the URNs it depends on (dependsOn), so tests assert what a program
 * declares without any cloud. The dependency list is read off the registration request the
 * SDK sends, the same one the engine would get.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

export type Registered = {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, any>;
  /** `urn::id` of the provider resource, when one was set. */
  readonly provider?: string;
  readonly parent: string;
  /** URNs from `dependsOn` (and from Output inputs). */
  readonly dependencies: readonly string[];
  /**
   * Resource options as the SDK sent them: `replaceOnChanges` includes what an SDK adds on its
   * own (@pulumi/command's Command adds `triggers[*]`), so a test reads the real semantics.
   */
  readonly options: RegisteredOptions;
};

export type RegisteredOptions = {
  readonly replaceOnChanges: readonly string[];
  readonly ignoreChanges: readonly string[];
  readonly protect: boolean;
  readonly retainOnDelete: boolean;
};

export type MockRecorder = {
  readonly registered: Registered[];
  /** The resource named `name`, or a failure listing the names. */
  byName(name: string): Registered;
  /** Resources of a type, in registration order. */
  ofType(type: string): Registered[];
  urnOf(name: string): string;
};

/**
 * What a local build command prints, under the mocks (its stdout: the built system's store path).
 * Default `mockSystemPath`; the SSH replay predicts what its `nix-build` stand-in builds.
 */
export type BuildOutput = (args: { name: string; inputs: Record<string, any> }) => string;

/** A store path that is a function of the build's script, as Nix's is of its inputs: `/nix/store/<hash>-nixos-system-<host>`. */
export const mockSystemPath: BuildOutput = ({ name, inputs }) => {
  const stdin = inputs.stdin && typeof inputs.stdin === "object" && "value" in inputs.stdin ? inputs.stdin.value : inputs.stdin;
  return `/nix/store/${createHash("sha256").update(String(stdin)).digest("hex").slice(0, 32)}-nixos-system-${name.replace(/^.*?-(.*)-build$/, "$1")}`;
};

export async function installMocks(stack = "prod", buildOutput: BuildOutput = mockSystemPath): Promise<MockRecorder> {
  const registered: Registered[] = [];
  const requests = new Map<string, { parent: string; dependencies: string[]; options: RegisteredOptions }>();
  const urns = new Map<string, string>();
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        const req = requests.get(`${args.type}::${args.name}`);
        registered.push({
          type: args.type,
          name: args.name,
          inputs: args.inputs,
          ...(args.provider ? { provider: args.provider } : {}),
          parent: req?.parent ?? "",
          dependencies: req?.dependencies ?? [],
          options: req?.options ?? { replaceOnChanges: [], ignoreChanges: [], protect: false, retainOnDelete: false },
        });
        // A build prints the system's store path, the input of its host's switch.
        if (args.type === "command:local:Command") return { id: `${args.name}-id`, state: { ...args.inputs, stdout: `${buildOutput(args)}\n` } };
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    "cim-nats",
    stack,
    false,
  );
  const monitor = pulumi.runtime.getMonitor() as any;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: any) => {
    requests.set(`${req.getType()}::${req.getName()}`, {
      parent: req.getParent(),
      dependencies: req.getDependenciesList(),
      options: {
        replaceOnChanges: req.getReplaceonchangesList(),
        ignoreChanges: req.getIgnorechangesList(),
        protect: req.getProtect() === true,
        retainOnDelete: req.getRetainondelete() === true,
      },
    });
    return register(req, (err: unknown, response: any) => {
      if (response) urns.set(req.getName(), response.getUrn());
      callback(err, response);
    });
  };
  const byName = (name: string) => {
    const found = registered.find((r) => r.name === name);
    if (!found) throw new Error(`no resource '${name}'; registered: ${registered.map((r) => r.name).join(", ")}`);
    return found;
  };
  return {
    registered,
    byName,
    ofType: (type) => registered.filter((r) => r.type === type),
    urnOf: (name) => {
      const urn = urns.get(name);
      if (!urn) throw new Error(`no URN for '${name}'`);
      return urn;
    },
  };
}

/** Resolves once every given resource is registered (its id or urn known). */
export async function registered(resources: readonly pulumi.Resource[]): Promise<void> {
  await Promise.all(
    resources.map(
      (r) => new Promise<void>((resolve) => (pulumi.CustomResource.isInstance(r) ? (r as pulumi.CustomResource).id : r.urn).apply(() => resolve())),
    ),
  );
}

/** The value of an Output (tests only). */
export function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply(resolve));
}

/** How a secret input looks to the mock monitor: Pulumi's secret signature around the value. */
export function secretInput<T>(value: T): { readonly [k: string]: unknown } {
  return { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value };
}
