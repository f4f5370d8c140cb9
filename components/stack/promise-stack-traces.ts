/**
 * Stack traces of the program, formatted so that printing them is cheap and always terminates.
 *
 * 1. The Pulumi SDK records `new Error().stack` on every promise it creates (runtime/debuggable.js,
 *    kept for its promise-leak report), several per resource. Under the TypeScript runtime each of
 *    those stacks is source-mapped by ts-node's `Error.prepareStackTrace`: measured at 0.94 s of a
 *    5.4 s program run (no-change `up`, 257 JetStream resources; bench/scale.ts). Those stacks are
 *    only printed if a promise leaks, so they get V8's plain format, formatted when first read.
 * 2. Frames inside node_modules keep their real .js position. The SDK's source maps name sources
 *    it does not ship, one folder up (`output.js.map` → `../output.ts`), so a mapped frame reads
 *    `…/node_modules/@pulumi/output.ts:519:31`: a scope folder with a file in it. Node 22.23's
 *    `util.inspect(error, { colors: true })`, which the SDK prints every unhandled program error
 *    with, loops forever on such a path, growing its output until the heap is full
 *    (nodejs/node#64011, fixed by nodejs/node#64022): any error thrown inside an `apply` hung the
 *    `up`/`preview` at full CPU instead of failing it.
 * Frames of the project's own files keep their TypeScript positions.
 */
import * as path from "node:path";

const DEBUGGABLE = `${path.sep}@pulumi${path.sep}pulumi${path.sep}runtime${path.sep}debuggable.js`;
const NODE_MODULES = `${path.sep}node_modules${path.sep}`;

/** Enough of a promise's creation stack to find it in a leak report (the SDK's own frames come first). */
const LEAK_REPORT_FRAMES = 8;

type Prepare = (error: Error, frames: NodeJS.CallSite[]) => unknown;

const plainHeader = (error: Error): string => `${error.name}${error.message ? `: ${error.message}` : ""}`;
const plainFrame = (frame: NodeJS.CallSite): string => `    at ${frame}`;

/**
 * `mapped`'s stack with every frame in node_modules put back to V8's plain line. A mapper writes
 * one line per frame after the message (ts-node's source-map-support does), so the last lines are
 * the frames; anything else is replaced by V8's plain format whole.
 *
 * Only the frames whose mapped line is kept go through the mapper (the SDK's per-resource
 * `callsites` stacks are mostly its own frames: mapping them was most of their cost), each with
 * its caller: source-map-support names a frame from its caller's mapped position, so a kept
 * frame's line reads exactly as if the whole stack had been mapped.
 */
export function withPlainDependencyFrames(mapped: Prepare): Prepare {
  return (error, frames) => {
    const dependency = frames.map((f) => f.getFileName()?.includes(NODE_MODULES) ?? false);
    if (!dependency.includes(true)) return mapped(error, frames);
    const toMap = frames.filter((_, i) => !dependency[i] || (i > 0 && !dependency[i - 1]));
    const text = mapped(error, toMap);
    const lines = typeof text === "string" ? text.split("\n") : [];
    if (lines.length <= toMap.length) return [plainHeader(error), ...frames.map(plainFrame)].join("\n");
    const first = lines.length - toMap.length;
    const mappedLine = new Map(toMap.map((frame, k) => [frame, lines[first + k]]));
    return [...lines.slice(0, first), ...frames.map((frame, i) => (dependency[i] ? plainFrame(frame) : mappedLine.get(frame)!))].join("\n");
  };
}

/** Installs both formats over the current (source-mapping) `Error.prepareStackTrace`; idempotent. */
export function plainPromiseStackTraces(): void {
  const mapped = Error.prepareStackTrace;
  if (!mapped || (mapped as { cimPlainPromises?: boolean }).cimPlainPromises) return;
  const mappedOwnFrames = withPlainDependencyFrames(mapped);
  const prepare: Prepare = (error, frames) => {
    if (!frames[0]?.getFileName()?.endsWith(DEBUGGABLE)) return mappedOwnFrames(error, frames);
    // Formatted only when read: the SDK prints it only in a leak report (`${p._debugStackTrace}`),
    // and formatting every promise's frames was 55–190 ms of each program run (cpuprofile).
    const kept = frames.slice(0, LEAK_REPORT_FRAMES);
    let text: string | undefined;
    return { toString: () => (text ??= `${plainHeader(error)}\n${kept.map(plainFrame).join("\n")}`) };
  };
  Error.prepareStackTrace = Object.assign(prepare, { cimPlainPromises: true });
}
