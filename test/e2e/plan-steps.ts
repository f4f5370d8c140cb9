/** What a `pulumi preview --json` plans and what an `up --json` performed, as "op resource" lines a reviewer reads. */

export type Step = { op: string; urn: string };

/** The last JSON document a `--json` run printed (up prints one per phase). */
export function lastJson(text: string): { steps?: Step[]; changeSummary?: Record<string, number>; diagnostics?: { message: string }[] } {
  const starts = [...text.matchAll(/^\{/gm)].map((m) => m.index!);
  for (const at of starts.reverse()) {
    try {
      return JSON.parse(text.slice(at));
    } catch {
      // an inner brace: keep looking
    }
  }
  throw new Error(`no JSON in output:\n${text.slice(-2000)}`);
}

/** "op name" of every step that changes something, sorted: what a reviewer reads in the plan. */
export function changes(steps: readonly Step[] | undefined): string[] {
  return (steps ?? [])
    .filter((s) => s.op !== "same" && s.op !== "read" && !s.urn.endsWith("pulumi:pulumi:Stack"))
    .map((s) => `${s.op === "create-replacement" || s.op === "delete-replaced" ? "replace" : s.op} ${s.urn.split("::").pop()}`)
    .filter((v, i, all) => all.indexOf(v) === i)
    .sort();
}

/** The steps `up --json` performed: its stream of engine events, one JSON object per line. */
export function performedSteps(text: string): Step[] {
  const steps: Step[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    const event = JSON.parse(line) as { resourcePreEvent?: { metadata: Step } };
    if (event.resourcePreEvent) steps.push(event.resourcePreEvent.metadata);
  }
  return steps;
}

/** Changes counted by operation, e.g. {"update":4}. */
export function countOps(list: readonly string[]): string {
  return JSON.stringify(list.reduce<Record<string, number>>((c, x) => ((c[x.split(" ")[0]] = (c[x.split(" ")[0]] ?? 0) + 1), c), {}));
}
