/**
 * `npm run adopt:containers -- <stack> <file> [host…]`: the `pulumi import --file` JSON that takes
 * over containers made before the stack (default: every host in `cim-nats:proxmox.adopt`), and the
 * two commands to run, printed (docs/adopt.md, step 3). From Pulumi.<stack>.yaml alone: no engine,
 * no state, no Proxmox. Writes only <file>.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { load } from "js-yaml";
import { containerImportFile, importParentTargets } from "../components/proxmox/import-file";
import { parseTopology } from "../components/topology/parse";

const [stack, file, ...named] = process.argv.slice(2);
if (!stack || !file) {
  console.error("usage: npm run adopt:containers -- <stack> <import file to write> [host …]");
  process.exit(2);
}
const config = (load(fs.readFileSync(path.join(__dirname, "..", `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, any> }).config;
const topology = parseTopology(config["cim-nats:topology"], { name: stack });
const hosts: string[] = named.length > 0 ? named : (config["cim-nats:proxmox"]?.adopt ?? []);
if (hosts.length === 0) {
  console.error(`no hosts: list them after the file, or set cim-nats:proxmox.adopt in Pulumi.${stack}.yaml`);
  process.exit(2);
}
fs.writeFileSync(file, `${JSON.stringify(containerImportFile(topology, hosts), null, 2)}\n`);
const targets = importParentTargets(topology, hosts).map((t) => `  --target '${t}'`).join(" \\\n");
console.log(`wrote ${file} (${hosts.length} container${hosts.length === 1 ? "" : "s"}: ${hosts.join(", ")})

1. the parents the containers are imported under (components and the provider; nothing on Proxmox):
npm run pulumi -- up -s ${stack} \\
${targets}

2. the containers themselves, read from Proxmox, protected:
npm run pulumi -- import -s ${stack} --file ${file} --protect --generate-code=false

3. then: npm run pulumi -- preview -s ${stack}   (no container replaced; docs/adopt.md says what else to expect)`);
