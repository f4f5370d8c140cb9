/**
 * `npm run bench`: every benchmark in bench/, one after another (they share the machine's two
 * cores, so never in parallel). Each prints its own figures and ratios against a baseline it
 * measures in the same run. Pass names to run some: `npm run bench -- jetstream-streams`; flags
 * go to the named benches: `npm run bench -- leaves --quick`.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const args = process.argv.slice(2);
const wanted = args.filter((a) => !a.startsWith("-"));
// Only to named benches: the others read their positional arguments as numbers.
const flags = wanted.length > 0 ? args.filter((a) => a.startsWith("-")) : [];
const benches = readdirSync(__dirname)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts")
  .map((f) => f.replace(/\.ts$/, ""))
  .filter((name) => wanted.length === 0 || wanted.includes(name));

let failed = 0;
for (const name of benches) {
  console.log(`\n=== bench/${name}.ts ===`);
  const r = spawnSync("tsx", [join(__dirname, `${name}.ts`), ...flags], { stdio: "inherit" });
  if (r.status !== 0) {
    failed++;
    console.error(`bench/${name}.ts failed (exit ${r.status ?? r.signal})`);
  }
}
process.exit(failed > 0 ? 1 : 0);
