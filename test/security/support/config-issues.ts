/** The issues a parser reports, for validation tables. */
import { ConfigError, type ConfigIssue } from "../../../components/topology/types";

/** The issues of the ConfigError `fn` throws, or [] when it throws none; other errors propagate. */
export function configIssues(fn: () => unknown): readonly ConfigIssue[] {
  try {
    fn();
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
}
