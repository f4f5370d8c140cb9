/**
 * No orphans (issue 9 item 8): when the Pulumi CLI is SIGKILLed in the middle of `up`, the nodejs
 * language host, the program it runs and the dynamic-provider process exit by themselves within
 * seconds (scripts/toolchain/parent-watch.go, built into the host by setup, and parent-watch.js,
 * preloaded into the provider). Real CLI, a throwaway project with one slow dynamic resource on
 * its own file backend.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createThrowaway, pulumi, toolchainMissing, type Throwaway } from "./throwaway";

const PROGRAM = `
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";

// create() says it started (its pid) and then takes two minutes: the CLI is killed meanwhile.
const provider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: any) {
        require("fs").writeFileSync(inputs.marker, String(process.pid));
        await new Promise((resolve) => setTimeout(resolve, 120_000));
        return { id: "slow", outs: inputs };
    },
};

class Slow extends pulumi.dynamic.Resource {
    constructor(name: string, args: { marker: string }) {
        super(provider, name, args, {});
    }
}

new Slow("slow", { marker: process.env.CIM_NATS_MARKER! });
`;

type Proc = { readonly pid: number; readonly ppid: number; readonly state: string; readonly args: readonly string[] };

function readProc(pid: number): Proc | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    return { pid, state: rest[0], ppid: Number(rest[1]), args };
  } catch {
    return undefined;
  }
}

/** Every live process under `root` (children, grandchildren …), at this moment. */
function descendants(root: number): Proc[] {
  const all = fs
    .readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .map((e) => readProc(Number(e)))
    .filter((p): p is Proc => p !== undefined);
  const found: Proc[] = [];
  const parents = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid);
        found.push(p);
        grew = true;
      }
    }
  }
  return found;
}

const alive = (pid: number): boolean => {
  const p = readProc(pid);
  return p !== undefined && p.state !== "Z";
};

async function waitFor(what: string, ms: number, cond: () => boolean): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - start;
}

const missing = toolchainMissing();

describe.skipIf(missing !== "")(`a killed pulumi up leaves no orphans${missing ? ` (skipped: ${missing})` : ""}`, () => {
  let project: Throwaway;
  let marker: string;
  let cli: ChildProcess | undefined;
  let seen: Proc[] = [];

  beforeAll(async () => {
    project = createThrowaway("orphans", { "index.ts": PROGRAM });
    marker = path.join(project.dir, "create-started");
    (project.context.env as NodeJS.ProcessEnv).CIM_NATS_MARKER = marker;
    await pulumi(project.context, ["stack", "init", "t"]);
  });

  afterAll(() => {
    if (cli?.exitCode === null) cli.kill("SIGKILL");
    for (const p of seen) if (alive(p.pid)) process.kill(p.pid, "SIGKILL");
    fs.rmSync(project.dir, { recursive: true, force: true });
  });

  it("the language host, the program and the dynamic provider exit within 5 s of SIGKILL to the CLI", async () => {
    let output = "";
    cli = spawn("pulumi", ["up", "--yes", "--skip-preview", "--non-interactive", "--color", "never", "-s", "t"], {
      cwd: project.context.cwd,
      env: project.context.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    cli.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    cli.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    const cliPid = cli.pid!;
    try {
      await waitFor("the slow create to start", 90_000, () => fs.existsSync(marker) && fs.readFileSync(marker, "utf8") !== "");
    } catch (err) {
      throw new Error(`${(err as Error).message}; pulumi up said:\n${output}`);
    }
    seen = descendants(cliPid);
    const providerPid = Number(fs.readFileSync(marker, "utf8"));
    const names = seen.map((p) => `${p.pid} ${p.args.join(" ")}`);
    const host = seen.find((p) => path.basename(p.args[0] ?? "") === "pulumi-language-nodejs");
    const program = seen.find((p) => p.args.some((a) => a.includes(`${path.sep}cmd${path.sep}run`)));
    const provider = seen.find((p) => p.pid === providerPid);
    expect(host, names.join("\n")).toBeDefined();
    expect(program, names.join("\n")).toBeDefined();
    expect(provider?.args.some((a) => a.includes("dynamic-provider")), names.join("\n")).toBe(true);

    cli.kill("SIGKILL");
    const gone = await waitFor(`${names.join(", ")} to exit`, 5_000, () => seen.every((p) => !alive(p.pid)));
    console.log(`orphans: ${seen.length} processes under the killed CLI, all gone ${gone} ms after the SIGKILL`);
  }, 150_000);
});
