/**
 * `npm run verify -- -s <stack> [--json] [--source-wait <s>]`: the whole health picture of a
 * deployed stack in one command. Reads the stack's outputs (`pulumi stack output --json
 * --show-secrets`), probes every server, the declared JetStream state, the aggregates' sources
 * and the CID service (components/verify/probe.ts), and prints one table, server × check
 * (components/verify/checks.ts), what to look at for each failure, and a summary line. Exit 0
 * when every check passed, 1 when any failed, 2 when it could not run. Progress goes to stderr.
 */
import { execFileSync } from "node:child_process";
import { evaluate, renderReport, type VerifyOutputs } from "../components/verify/checks";
import { observe } from "../components/verify/probe";

function usage(problem: string): never {
  process.stderr.write(`${problem}\nusage: npm run verify -- -s <stack> [--json] [--source-wait <seconds>]\n`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): { stack: string; json: boolean; sourceWaitMs: number } {
  let stack: string | undefined;
  let json = false;
  let sourceWaitMs = 15_000;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-s" || a === "--stack") stack = argv[++i];
    else if (a.startsWith("--stack=")) stack = a.slice("--stack=".length);
    else if (a === "--json") json = true;
    else if (a === "--source-wait") sourceWaitMs = Number(argv[++i]) * 1000;
    else usage(`unknown argument '${a}'`);
  }
  if (!stack) usage("which stack? pass -s <stack> (e.g. -s dev)");
  if (!Number.isFinite(sourceWaitMs) || sourceWaitMs < 0) usage("--source-wait takes a number of seconds");
  return { stack, json, sourceWaitMs };
}

function stackOutputs(stack: string): VerifyOutputs {
  let text: string;
  try {
    text = execFileSync("pulumi", ["stack", "output", "--json", "--show-secrets", "-s", stack, "--non-interactive"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    usage(`cannot read the outputs of stack '${stack}': ${(err.stderr ?? err.message).trim()}\n(run through scripts/with-env.sh, from the project folder, after \`pulumi up -s ${stack}\`)`);
  }
  const outputs = JSON.parse(text) as VerifyOutputs;
  if (!outputs.leaves || !outputs.hub) usage(`stack '${stack}' has no leaves/hub outputs: has it been deployed (\`pulumi up -s ${stack}\`)?`);
  return outputs;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const outputs = stackOutputs(args.stack);
  const progress = (line: string) => process.stderr.write(`verify: ${line}\n`);
  const observations = await observe(outputs, { progress, sourceWaitMs: args.sourceWaitMs });
  const local = outputs.substrate === "local";
  const report = evaluate(outputs, observations, {
    logOf: (server) => (local ? `.cim-dev/${args.stack}/${server}/nats.log` : `journalctl -u cim-nats-${server.endsWith("-hub") ? "hub" : "leaf"} on host ${server.replace(/-hub$/, "")}`),
    cidLog: local ? `.cim-dev/${args.stack}/cid-service/cid-service.log` : "journalctl -u cim-cid-service on the CID service's host",
    up: `run \`pulumi up -s ${args.stack} --refresh\` to restore it`,
    start: local ? `\`pulumi up -s ${args.stack}\` starts a stopped one again` : `systemctl status cim-nats-<leaf|hub> on the host`,
  });
  process.stdout.write(args.json ? JSON.stringify(report, null, 2) + "\n" : renderReport(report));
  process.exit(report.failures.length === 0 && report.passed === report.total ? 0 : 1);
}

main().catch((e: Error) => {
  process.stderr.write(`verify: ${e.stack ?? e.message}\n`);
  process.exit(2);
});
