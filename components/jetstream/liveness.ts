/**
 * Drift that matters, seen by every `preview` and `up` without `--refresh`: each JetStream
 * resource's diff asks its server whether the object still exists. A leaf whose store was wiped
 * (disk replaced, folder deleted) then shows its streams, buckets, consumers and entries as
 * updates, and `update` creates them again. Only existence is checked here; out-of-band edits of
 * a setting still need `pulumi refresh` (or `up --refresh`), as docs/jetstream.md says.
 *
 * A server that cannot be asked (down, unreachable) is not drift: the answer is "exists", and
 * the server's own resource deals with it.
 */
import { containsUnknown } from "./canonical";
import type { ConnectionTarget } from "./types";

/** Whether `probe` says the object is gone; false when it exists, the target is not known yet, or the server cannot be asked. */
export async function isGone(target: ConnectionTarget | undefined, probe: () => Promise<unknown>): Promise<boolean> {
  if (!target || containsUnknown(target)) return false;
  try {
    return (await probe()) === undefined;
  } catch {
    return false;
  }
}
