// TCP/unix-socket forwarder for servers in a network namespace (test/support/netns.ts). Run once
// in the host namespace and once inside the namespace (`ip netns exec`): a path-named unix socket
// is reachable from both, so each forwarded port is TCP → unix socket → TCP, at the same address
// on both sides. Usage: node netns-forwarder.mjs <spec.json>; spec: [{ listen, connect }], each
// { tcp: "host:port" } or { unix: "/path" }. Prints "ready" once every listener is bound.
import * as fs from "node:fs";
import * as net from "node:net";

const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const address = (e) => (e.unix ? { path: e.unix } : { host: e.tcp.slice(0, e.tcp.lastIndexOf(":")), port: Number(e.tcp.slice(e.tcp.lastIndexOf(":") + 1)) });

let pending = spec.length;
for (const { listen, connect } of spec) {
  if (listen.unix) fs.rmSync(listen.unix, { force: true });
  const server = net.createServer((inbound) => {
    const outbound = net.connect(address(connect));
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    const close = () => {
      inbound.destroy();
      outbound.destroy();
    };
    for (const s of [inbound, outbound]) {
      s.on("error", close);
      s.on("close", close);
    }
  });
  server.on("error", (e) => {
    process.stderr.write(`listen ${JSON.stringify(listen)}: ${e.message}\n`);
    process.exit(1);
  });
  server.listen(address(listen), () => {
    if (--pending === 0) process.stdout.write("ready\n");
  });
}
process.on("SIGTERM", () => process.exit(0));
