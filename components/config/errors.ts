/**
 * The one error type of the stack config, for every `cim-nats:*` section. Parsers collect every
 * problem as a `ConfigIssue` and throw one `ConfigError`, so the user fixes them in one pass.
 */

/** One problem in the stack config: where, and what to do about it. */
export type ConfigIssue = {
  /** Path into the stack config, e.g. `topology.hosts[2].vmid`. */
  readonly propertyPath: string;
  /** What is wrong and how to fix it; names the value. */
  readonly reason: string;
};

/** Thrown by parsers with every problem found, so the user sees them all at once. */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super(
      `invalid cim-nats stack config (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n` +
        issues.map((i) => `  - ${i.propertyPath}: ${i.reason}`).join("\n"),
    );
    this.name = "ConfigError";
    this.issues = issues;
  }
}
