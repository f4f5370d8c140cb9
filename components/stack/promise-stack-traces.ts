/**
 * The Pulumi SDK records `new Error().stack` on every promise it creates (runtime/debuggable.js,
 * kept for its promise-leak report), several per resource. Under the TypeScript runtime each of
 * those stacks is source-mapped by ts-node's `Error.prepareStackTrace`: measured at 0.94 s of a
 * 5.4 s program run (no-change `up`, 257 JetStream resources; bench/scale.ts). Those stacks are
 * only printed if a promise leaks, so they get V8's plain format; every other error keeps its
 * TypeScript positions.
 */
import * as path from "node:path";

const DEBUGGABLE = `${path.sep}@pulumi${path.sep}pulumi${path.sep}runtime${path.sep}debuggable.js`;

/** Enough of a promise's creation stack to find it in a leak report (the SDK's own frames come first). */
const LEAK_REPORT_FRAMES = 8;

/** Formats the SDK's promise-bookkeeping stacks without source maps; everything else as before. */
export function plainPromiseStackTraces(): void {
  const mapped = Error.prepareStackTrace;
  if (!mapped || (mapped as { cimPlainPromises?: boolean }).cimPlainPromises) return;
  const prepare = (error: Error, frames: NodeJS.CallSite[]): unknown =>
    frames[0]?.getFileName()?.endsWith(DEBUGGABLE)
      ? `${error.name}${error.message ? `: ${error.message}` : ""}\n${frames.slice(0, LEAK_REPORT_FRAMES).map((f) => `    at ${f}`).join("\n")}`
      : mapped(error, frames);
  Error.prepareStackTrace = Object.assign(prepare, { cimPlainPromises: true });
}
