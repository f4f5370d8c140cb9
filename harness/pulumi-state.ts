/**
 * A stack's outputs and resources read straight from its file backend's checkpoint, the file `pulumi stack
 * output` reads: no CLI process (one costs 1-9 s on a loaded machine, and a day-2 test reads
 * outputs after every step). Plain outputs only: a secret one stays ciphertext in the file, so
 * asking for it throws; read those with stackOutputs (pulumi-cli.ts).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { PulumiContext } from "./pulumi-cli";

/** Pulumi's marker of a secret value in state. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** A resource as the checkpoint (and `pulumi stack export`'s `deployment.resources`) holds it. */
export type StateResource = { readonly urn: string; readonly type: string; readonly outputs?: Record<string, unknown> };

type Checkpoint = { checkpoint?: { latest?: { resources?: StateResource[] } } };

/** The checkpoint file of `stack` (file backend, project-scoped layout). */
function checkpointPath(context: PulumiContext, stack: string): string {
  const backend = context.env.PULUMI_BACKEND_URL ?? "";
  if (!backend.startsWith("file://")) throw new Error(`stateOutputs reads a file backend only; PULUMI_BACKEND_URL is '${backend}': use stackOutputs`);
  const project = /^name:\s*(\S+)\s*$/m.exec(fs.readFileSync(path.join(context.cwd, "Pulumi.yaml"), "utf8"))?.[1];
  if (!project) throw new Error(`no project name in ${path.join(context.cwd, "Pulumi.yaml")}`);
  return path.join(backend.slice("file://".length), ".pulumi", "stacks", project, `${stack}.json`);
}

/** Every resource of `stack` as its last update left them: what `pulumi stack export` prints under deployment.resources. */
export function stateResources(context: PulumiContext, stack: string): readonly StateResource[] {
  const file = checkpointPath(context, stack);
  return (JSON.parse(fs.readFileSync(file, "utf8")) as Checkpoint).checkpoint?.latest?.resources ?? [];
}

/** The named plain outputs of `stack` as its last update left them. Throws for a secret or missing one. */
export function stateOutputs<K extends string>(context: PulumiContext, stack: string, names: readonly K[]): Record<K, unknown> {
  const file = checkpointPath(context, stack);
  const root = stateResources(context, stack).find((r) => r.type === "pulumi:pulumi:Stack");
  if (!root) throw new Error(`${file} has no stack resource: has the stack been updated yet?`);
  const outputs = root.outputs ?? {};
  const picked = {} as Record<K, unknown>;
  for (const name of names) {
    const value = outputs[name];
    if (value === undefined) throw new Error(`stack output '${name}' is not in ${file} (outputs: ${Object.keys(outputs).join(", ")})`);
    if (JSON.stringify(value).includes(SECRET_SIG)) throw new Error(`stack output '${name}' is (or holds) a secret: read it with stackOutputs`);
    picked[name] = value;
  }
  return picked;
}
