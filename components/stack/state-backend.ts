/**
 * Where a stack on real machines keeps its state. scripts/with-env.sh defaults every run to a file
 * backend in the project's git-ignored `.pulumi-state/`: right for the throwaway dev stack, wrong
 * for prod — one laptop's copy, unshared, unbacked-up, lost with the checkout (docs/prod.md,
 * "Shared state backend"). Pure: the backend URL and the project folder in, a verdict out.
 */
import * as path from "node:path";

/** Set to `1` to run a real-machines stack on a local file backend anyway (tests, a one-off bootstrap). */
export const ALLOW_LOCAL_STATE_ENV = "CIM_NATS_ALLOW_LOCAL_STATE";

export type StateBackendVerdict = { readonly refuse?: string; readonly warn?: string };

/** What to do about `backendUrl` (PULUMI_BACKEND_URL; undefined when set by `pulumi login` alone) for stack `stack`. */
export function stateBackendVerdict(stack: string, backendUrl: string | undefined, projectRoot: string, allow: string | undefined): StateBackendVerdict {
  if (!backendUrl || !backendUrl.startsWith("file://")) return {};
  const dir = path.resolve(backendUrl.slice("file://".length).replace(/^~(?=\/|$)/, process.env.HOME ?? "~"));
  const rel = path.relative(path.resolve(projectRoot), dir);
  const inProject = rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
  const shared = "Use the shared backend (docs/prod.md, \"Shared state backend\"): `export PULUMI_BACKEND_URL=s3://…` (or `pulumi login …`), then migrate with `pulumi stack export`/`import`";
  const optOut = `or set ${ALLOW_LOCAL_STATE_ENV}=1 to accept it`;
  if (inProject && allow !== "1") {
    return { refuse: `stack '${stack}' runs on real machines but its state is the local file backend ${dir}, inside this checkout (git-ignored: no one else sees it, nothing backs it up). ${shared}; ${optOut}.` };
  }
  return { warn: `stack '${stack}' runs on real machines with its state in the local file backend ${dir}: only this machine sees it. ${shared}.` };
}
