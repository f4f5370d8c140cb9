/**
 * CPU of one Pulumi CLI run of this project: a no-op `pulumi preview -s dev` on a throwaway
 * dev-shaped stack (harness/dev-project.ts, addresses 127.0.160.x), user+sys CPU-seconds of the
 * CLI and everything it waited for (language host, program, plugins), and wall time.
 *
 * The baseline is the settings before fast-run (the program files below as of BASE, no Node
 * compile cache); each later variant adds one change, the last one is what with-env.sh and the
 * worktree now give. Variants alternate round by round, so a machine that gets busier slows all of
 * them alike; CPU-seconds hold up under load, wall times do not.
 *
 *   npm run bench -- cli-run            # 3 rounds (BENCH_RUNS)
 *   npm run bench -- cli-run --base <git ref>
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { createDevProject, type DevProject } from "../harness/dev-project";
import { PROJECT_ROOT, resourceSummary, runPulumi } from "../harness/pulumi-cli";
import { runProcess } from "../harness/run-process";

/** Own loopback addresses (fast-run's range is 127.0.160–169): beside the developer's dev stack. */
const NET = process.env.BENCH_NET ?? "127.0.160";
/** The commit before fast-run's changes: the baseline's program files come from it. */
const BASE = process.argv.includes("--base") ? process.argv[process.argv.indexOf("--base") + 1] : "6b5bd9d";
/** The commit before the lazy promise stacks and memoized public keys. */
const BEFORE_LAZY = "14b1fa0";
/** Files changed since BASE in what a CLI run loads: a variant takes each from a commit or from this checkout. */
const PROGRAM_FILES = ["components/stack/promise-stack-traces.ts", "components/security/jwt.ts"] as const;
type ProgramFile = (typeof PROGRAM_FILES)[number];

type Variant = {
  readonly name: string;
  /** PROGRAM_FILES taken as of a commit; the others as in this checkout. */
  readonly files: Partial<Record<ProgramFile, string>>;
  readonly env: NodeJS.ProcessEnv;
};

/** `cpu`: the CLI and all it waited for; `program`: the Node process running index.ts alone. */
type Sample = { readonly cpu: number; readonly program: number; readonly wall: number };

/**
 * Preloaded into every Node process of a run (NODE_OPTIONS): appends its script and CPU-seconds
 * at exit, so the program's own share can be told from the Go processes', which spin more on a
 * busy machine and make the total noisier.
 */
const CPU_HOOK = `process.on("exit", () => { const u = process.cpuUsage(); require("node:fs").appendFileSync(process.env.CIM_BENCH_CPU_LOG, JSON.stringify({ script: process.argv[1] ?? "", cpu: (u.user + u.system) / 1e6 }) + "\\n"); });`;

/** Runs `pulumi <args>` under bash and reads `times`: CPU of every process the CLI waited for. */
async function timedPulumi(project: DevProject, env: NodeJS.ProcessEnv, args: readonly string[]): Promise<Sample & { stdout: string; otherNode: string }> {
  const started = Date.now();
  const hook = path.join(project.dir, "cpu-hook.js");
  const cpuLog = path.join(project.dir, "cpu.log");
  fs.writeFileSync(hook, CPU_HOOK);
  fs.rmSync(cpuLog, { force: true });
  const script = 'pulumi "$@" > "$OUT" 2>&1; code=$?; times >&2; exit $code';
  const out = path.join(project.dir, "run.out");
  const run = await runProcess("bash", ["-c", script, "bash", "--non-interactive", "--color", "never", ...args], {
    cwd: project.context.cwd,
    env: { ...project.context.env, ...env, OUT: out, NODE_OPTIONS: `--require ${hook}`, CIM_BENCH_CPU_LOG: cpuLog },
  });
  const wall = (Date.now() - started) / 1000;
  const stdout = fs.readFileSync(out, "utf8");
  if (run.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${run.code}:\n${stdout.slice(-4000)}`);
  // `times`: the shell's own user/sys, then its children's (the CLI and what it waited for).
  const children = run.stderr.trim().split("\n").at(-1) ?? "";
  const secs = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  if (secs.length !== 2) throw new Error(`could not read CPU times from: ${run.stderr}`);
  const nodeRuns = fs.readFileSync(cpuLog, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { script: string; cpu: number });
  const isProgram = (r: { script: string }) => r.script.endsWith(path.join("cmd", "run", "index.js"));
  const program = nodeRuns.filter(isProgram).reduce((sum, r) => sum + r.cpu, 0);
  const otherNode = nodeRuns.filter((r) => !isProgram(r)).map((r) => `${path.basename(r.script) || "node"} ${r.cpu.toFixed(2)}`);
  return { cpu: secs[0] + secs[1], program, wall, stdout, otherNode: otherNode.join(", ") };
}

function setProgramFiles(project: DevProject, files: Variant["files"]): void {
  for (const file of PROGRAM_FILES) {
    const ref = files[file];
    const text = ref ? execFileSync("git", ["show", `${ref}:${file}`], { cwd: PROJECT_ROOT, encoding: "utf8" }) : fs.readFileSync(path.join(PROJECT_ROOT, file), "utf8");
    fs.writeFileSync(path.join(project.projectDir, file), text);
  }
}

const median = (values: readonly number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const rounds = Number(process.env.BENCH_RUNS ?? 3);
  const project = createDevProject("cim-nats-bench-cli-run-");
  const compileCache = path.join(project.dir, "node-compile-cache");
  const variants: readonly Variant[] = [
    { name: "baseline (before fast-run)", files: { "components/stack/promise-stack-traces.ts": BASE, "components/security/jwt.ts": BEFORE_LAZY }, env: { NODE_COMPILE_CACHE: undefined } },
    { name: "+ Node compile cache", files: { "components/stack/promise-stack-traces.ts": BASE, "components/security/jwt.ts": BEFORE_LAZY }, env: { NODE_COMPILE_CACHE: compileCache } },
    { name: "+ own frames only source-mapped", files: { "components/stack/promise-stack-traces.ts": BEFORE_LAZY, "components/security/jwt.ts": BEFORE_LAZY }, env: { NODE_COMPILE_CACHE: compileCache } },
    { name: "+ lazy promise stacks, memo keys (now)", files: {}, env: { NODE_COMPILE_CACHE: compileCache } },
  ];
  try {
    const config = path.join(project.projectDir, "Pulumi.dev.yaml");
    fs.writeFileSync(config, fs.readFileSync(config, "utf8").replace(/127\.0\.0\.(\d+)/g, `${NET}.$1`));
    await runPulumi(project.context, ["stack", "select", "--create", "dev"]);
    setProgramFiles(project, variants[0].files);
    await runPulumi(project.context, ["up", "--yes", "--skip-preview", "-s", "dev"], { timeoutMs: 900_000 });
    const samples = new Map<string, Sample[]>(variants.map((v) => [v.name, []]));
    // One unmeasured run per variant first: ts-node's and Node's on-disk caches are then warm, as
    // they are for every run but a checkout's first.
    for (let round = -1; round < rounds; round++) {
      for (let i = 0; i < variants.length; i++) {
        const v = variants[(i + Math.max(round, 0)) % variants.length];
        setProgramFiles(project, v.files);
        const run = await timedPulumi(project, v.env, ["preview", "-s", "dev"]);
        const summary = resourceSummary(run.stdout);
        if (Object.keys(summary).some((k) => k !== "unchanged")) throw new Error(`${v.name}: the preview was not a no-op: ${JSON.stringify(summary)}\n${run.stdout.slice(-3000)}`);
        if (round < 0) continue;
        samples.get(v.name)!.push(run);
        console.error(`round ${round + 1}/${rounds} ${v.name}: ${run.cpu.toFixed(2)} CPU-s (program ${run.program.toFixed(2)}; other Node processes: ${run.otherNode || "none"}), ${run.wall.toFixed(1)} s wall (${summary.unchanged} unchanged)`);
      }
    }
    const base = samples.get(variants[0].name)!;
    const baseCpu = median(base.map((s) => s.cpu));
    const baseProgram = median(base.map((s) => s.program));
    const baseWall = median(base.map((s) => s.wall));
    console.log(`\nno-op \`pulumi preview -s dev\`, median of ${rounds} runs each (load ${fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0]})\n`);
    const col = (text: string, width = 8) => text.padStart(width);
    console.log(`${"variant".padEnd(40)}${col("CPU-s")}${col("× base")}${col("program")}${col("× base")}${col("wall s")}${col("× base")}`);
    for (const v of variants) {
      const s = samples.get(v.name)!;
      const cpu = median(s.map((x) => x.cpu));
      const program = median(s.map((x) => x.program));
      const wall = median(s.map((x) => x.wall));
      console.log(`${v.name.padEnd(40)}${col(cpu.toFixed(2))}${col((cpu / baseCpu).toFixed(2))}${col(program.toFixed(2))}${col((program / baseProgram).toFixed(2))}${col(wall.toFixed(1))}${col((wall / baseWall).toFixed(2))}`);
    }
  } finally {
    await project.cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
