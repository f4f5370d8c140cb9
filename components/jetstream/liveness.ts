/**
 * Drift that matters, seen by every `preview` and `up` without `--refresh`: each JetStream
 * resource's diff asks its server whether the object still exists. A leaf whose store was wiped
 * (disk replaced, folder deleted) then shows its streams, buckets, consumers and entries as
 * updates, and `update` creates them again. Only existence is checked here; out-of-band edits of
 * a setting still need `pulumi refresh` (or `up --refresh`), as docs/jetstream.md says.
 *
 * A server that cannot be asked (down) is not drift here: the server's own resource restarts
 * it, and whether its store survived is that resource's to say — on the dev substrate a wiped
 * store changes the server's `storeId`, which every JetStream resource there carries in its
 * target, so preview plans their updates exactly when the store is gone. After one failed
 * attempt a target is not asked again for a while: a dead host costs one connection timeout, not
 * one per resource.
 */
import { createHash } from "node:crypto";
import { containsUnknown } from "../provider/canonical";
import type { ConnectionTarget } from "./types";

export type Liveness = "present" | "gone" | "unreachable";

/**
 * `CIM_NATS_OFFLINE=1`: plan without asking any server (no existence checks, no removal checks)
 * — for previewing a stack whose servers this machine must not or cannot reach (the prod preview
 * on a workstation, CI). The engine hands its environment to the provider processes.
 */
export function liveChecksDisabled(): boolean {
  return process.env.CIM_NATS_OFFLINE === "1" || process.env.CIM_NATS_OFFLINE === "true";
}

const UNREACHABLE_KEY = Symbol.for("cim-nats.jetstream.unreachable-targets");
const REMEMBER_UNREACHABLE_MS = 60_000;

function unreachable(): Map<string, number> {
  const g = globalThis as unknown as Record<symbol, Map<string, number> | undefined>;
  return (g[UNREACHABLE_KEY] ??= new Map());
}

function targetKey(target: ConnectionTarget): string {
  return createHash("sha256").update(JSON.stringify([target.servers, target.domain ?? ""])).digest("hex");
}

/** What the server says about an object: `probe` resolves undefined when it is not there. */
export async function liveness(target: ConnectionTarget, probe: () => Promise<unknown>): Promise<Liveness> {
  if (liveChecksDisabled()) return "unreachable";
  const key = targetKey(target);
  const failedAt = unreachable().get(key);
  if (failedAt !== undefined && Date.now() - failedAt < REMEMBER_UNREACHABLE_MS) return "unreachable";
  try {
    return (await probe()) === undefined ? "gone" : "present";
  } catch {
    unreachable().set(key, Date.now());
    return "unreachable";
  }
}

/**
 * Whether a resource whose settings match must still be updated because its object is gone from
 * a server that answers. False while the target is not known yet (the diff reports that change).
 */
export async function needsEnsure(target: ConnectionTarget | undefined, probe: () => Promise<unknown>): Promise<boolean> {
  if (!target || containsUnknown(target)) return false;
  return (await liveness(target, probe)) === "gone";
}
