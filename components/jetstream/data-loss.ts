/**
 * The data-loss guard's shared decisions inside one provider process: which deletes and
 * replacements of a store holding data were approved, and which JetStream domains leave with
 * their hosts in this run.
 *
 * Pulumi hands `delete` only the old outputs, so a delete cannot see the stack's current
 * `allowDataLoss`. The removal guard's `check` (the first step of an `up`), a store's own `diff`
 * and the teardown gate's `delete` (the first step of a `destroy`) decide for the whole run and
 * record their approvals here; every dynamic resource of the stack runs in the one
 * `pulumi-nodejs` provider process, so the store deletes that follow see them.
 */

const APPROVALS_KEY = Symbol.for("cim-nats.jetstream.replace-approvals");
const GOING_KEY = Symbol.for("cim-nats.jetstream.domains-going");

function approvals(): Set<string> {
  const g = globalThis as unknown as Record<symbol, Set<string> | undefined>;
  return (g[APPROVALS_KEY] ??= new Set());
}

function going(): Set<string> {
  const g = globalThis as unknown as Record<symbol, Set<string> | undefined>;
  return (g[GOING_KEY] ??= new Set());
}

/** Records that deleting or replacing `id` may drop its data in this run. */
export function approveReplacement(id: string): void {
  approvals().add(id);
}

/** Whether `delete` of `id` may drop data: the resource opted in, or this run approved it. */
export function dataLossAllowed(id: string, allowDataLoss: boolean | undefined): boolean {
  return allowDataLoss === true || approvals().has(id);
}

/** Forgets an approval once the delete ran. */
export function consumeApproval(id: string): void {
  approvals().delete(id);
}

/**
 * Records that the servers of these JetStream domains are removed in this run (a host left the
 * topology, or the stack is destroyed): a store there that cannot be reached goes with its
 * server's data directory, so its delete is done.
 */
export function markDomainsGoing(domains: Iterable<string>): void {
  for (const d of domains) going().add(d);
}

/** Records that this run's whole-run decision allowed data loss (the stack's `allowDataLoss`). */
export function markRunAllowsDataLoss(): void {
  going().add(RUN_ALLOWS);
}

/** Whether this run's whole-run decision allowed data loss. */
export function runAllowsDataLoss(): boolean {
  return going().has(RUN_ALLOWS);
}

/** A key no JetStream domain can be (domains are names without spaces). */
const RUN_ALLOWS = "run allows data loss";

/** Whether this run removes the servers of `domain` (see markDomainsGoing). */
export function domainGoing(domain: string | undefined): boolean {
  return domain !== undefined && going().has(domain);
}

/**
 * An expected refusal: its message is the whole story (what, where, how much, the fix), so the
 * provider process prints no stack trace for it (the console filter below) and Pulumi shows it once.
 */
export class Refusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Refusal";
    // The dynamic provider host logs `${e}: ${e.stack}` before returning the error: a marker the
    // loader's console filter drops, so only the engine's one line remains.
    this.stack = REFUSAL_MARK;
  }

  override toString(): string {
    return REFUSAL_MARK;
  }
}

/** What a Refusal shows to the provider host's own logging (filtered out below). */
export const REFUSAL_MARK = "[cim-nats refusal]";

// The dynamic provider host logs every error it returns as `${e}: ${e.stack}` before the engine
// reports it; a Refusal is all message, shown once by the engine: drop that log line (installed
// once per process, by whichever module loads this one first).
const QUIET_KEY = Symbol.for("cim-nats.quiet-refusals");
const g = globalThis as unknown as Record<symbol, boolean | undefined>;
if (!g[QUIET_KEY]) {
  g[QUIET_KEY] = true;
  const original = console.error.bind(console);
  console.error = (...args: unknown[]) => {
    if (typeof args[0] === "string" && args[0].startsWith(REFUSAL_MARK)) return;
    original(...args);
  };
}

/** The error a guarded delete or replace raises. */
export class DataLossError extends Refusal {
  constructor(what: string, messages: number, action: "delete" | "replace", because?: string) {
    super(
      `${what} holds ${messages} message${messages === 1 ? "" : "s"}; ${action === "delete" ? "deleting" : "replacing"} it would lose them` +
        `${because ? ` (replaced because ${because})` : ""}. Nothing was changed. ` +
        (action === "delete"
          ? "Fix: keep it declared; or back it up (nats stream backup), then set cim-nats:allowDataLoss: true for the up that removes it."
          : "Fix: revert the change; or back it up (nats stream backup), then set cim-nats:allowDataLoss: true for this up."),
    );
    this.name = "DataLossError";
  }
}
