/**
 * What the Pulumi engine plans for a resource whose inputs changed, modelled from what the SDK
 * really sent (mocks.ts records the registration request), not chosen by the test:
 * - `ignoreChanges` paths keep their old values before anything is compared;
 * - a change under a `replaceOnChanges` path (the program's, plus what an SDK adds on its own:
 *   @pulumi/command's Command constructor adds `triggers[*]`) plans a replacement, as does a
 *   change to a field the provider itself forces new (`forceNew`, from the provider's schema);
 * - any other change plans an update.
 * And which script the command provider then runs (pulumi-command v1.2.1,
 * provider/pkg/provider/remote/commandController.go): Create runs `create`; Update runs
 * `update` when set, else `create`; a replacement creates anew, so it runs `create`.
 * The real providers are the authority: test/e2e/prod-preview.test.ts asks them.
 */
import { Registered } from "../proxmox/mocks";

export type PlannedOperation = "create" | "same" | "update" | "replace";

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Inputs as the engine compares them: secrets unwrapped, asset texts resolved. */
export async function comparableInputs(r: Registered): Promise<unknown> {
  const walk = async (v: any): Promise<unknown> => {
    if (v && typeof v === "object" && SECRET_SIG in v) return walk(v.value);
    if (v && typeof v === "object" && "text" in v && typeof v.text?.then === "function") return { asset: await v.text };
    if (Array.isArray(v)) return Promise.all(v.map(walk));
    if (v && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) out[k] = await walk(v[k]);
      return out;
    }
    return v;
  };
  return walk(r.inputs);
}

type Segment = string | "*";

/** `a.b[*].c` → ["a", "b", "*", "c"]. */
function segments(path: string): Segment[] {
  return path
    .replace(/\[(\*|\d+)\]/g, ".$1")
    .split(".")
    .filter((s) => s !== "");
}

/** Paths (as segments) whose values differ between two plain values. */
function differences(a: unknown, b: unknown, at: string[] = []): string[][] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  const isObj = (v: unknown) => v !== null && typeof v === "object";
  if (!isObj(a) || !isObj(b) || Array.isArray(a) !== Array.isArray(b)) return [at];
  const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
  return [...keys].flatMap((k) => differences((a as any)[k], (b as any)[k], [...at, k]));
}

/** True when `path` is at or under `pattern` (`*` matches any one segment). */
function under(path: readonly string[], pattern: readonly Segment[]): boolean {
  if (path.length < pattern.length) return pattern.slice(0, path.length).every((p, i) => p === "*" || p === path[i]);
  return pattern.every((p, i) => p === "*" || p === path[i]);
}

/** Copies the old value at each ignored path into the new inputs (what `ignoreChanges` does). */
function applyIgnoreChanges(before: any, after: any, ignore: readonly string[]): any {
  const out = JSON.parse(JSON.stringify(after ?? {}));
  for (const path of ignore) {
    const segs = segments(path);
    let src = before;
    for (const s of segs) src = src?.[s];
    let dst = out;
    for (const s of segs.slice(0, -1)) dst = dst[s] ??= {};
    if (src === undefined) delete dst[segs[segs.length - 1]];
    else dst[segs[segs.length - 1]] = JSON.parse(JSON.stringify(src));
  }
  return out;
}

/** What the engine plans for `after`, given the same resource's registration `before` (undefined: new). */
export async function plannedOperation(before: Registered | undefined, after: Registered, forceNew: readonly string[] = []): Promise<PlannedOperation> {
  if (before === undefined) return "create";
  const old = await comparableInputs(before);
  const next = applyIgnoreChanges(old, await comparableInputs(after), after.options.ignoreChanges);
  const changed = differences(old, next);
  if (changed.length === 0) return "same";
  const replacing = [...after.options.replaceOnChanges, ...forceNew].map(segments);
  return changed.some((path) => replacing.some((p) => under(path, p))) ? "replace" : "update";
}

/** The command string the command provider runs for a planned operation, or undefined when none runs. */
export function commandRun(operation: PlannedOperation, inputs: Record<string, any>): string | undefined {
  switch (operation) {
    case "same":
      return undefined;
    case "update":
      return inputs.update ?? inputs.create;
    case "create":
    case "replace":
      return inputs.create;
    default: {
      const never: never = operation;
      throw new Error(`unknown operation ${never}`);
    }
  }
}
