/**
 * The data-loss guard: deleting or replacing a stream or bucket that holds messages fails unless
 * the resource opts in with `allowDataLoss: true`.
 *
 * Pulumi hands `delete` only the old outputs, so a replacement's delete cannot see the new
 * `allowDataLoss`. `diff` therefore records the replacements it approved (same provider
 * process, same deployment) and `delete` honours them.
 */

const APPROVALS_KEY = Symbol.for("cim-nats.jetstream.replace-approvals");

function approvals(): Set<string> {
  const g = globalThis as unknown as Record<symbol, Set<string> | undefined>;
  return (g[APPROVALS_KEY] ??= new Set());
}

/** Records that `diff` approved replacing `id` although it holds data. */
export function approveReplacement(id: string): void {
  approvals().add(id);
}

/** Whether `delete` of `id` may drop data: the resource opted in, or `diff` approved a replace. */
export function dataLossAllowed(id: string, allowDataLoss: boolean | undefined): boolean {
  return allowDataLoss === true || approvals().has(id);
}

/** Forgets an approval once the delete ran. */
export function consumeApproval(id: string): void {
  approvals().delete(id);
}

/** The error a guarded delete or replace raises. */
export class DataLossError extends Error {
  constructor(what: string, messages: number, action: "delete" | "replace", because?: string) {
    super(
      `${what} holds ${messages} message${messages === 1 ? "" : "s"}; ${action === "delete" ? "deleting" : "replacing"} it would lose them` +
        `${because ? ` (replaced because ${because})` : ""}. ` +
        (action === "delete"
          ? "To delete it anyway, set allowDataLoss: true on the resource and run `pulumi up` first, then remove it."
          : "To accept that, set allowDataLoss: true on the resource in the same change; or revert the change."),
    );
    this.name = "DataLossError";
  }
}
