/**
 * The CID object service as a process (dev: started by LocalCidService; prod: the
 * `cim-cid-service` systemd unit). Configured by environment:
 *
 * - `CID_NATS_URLS`     comma-separated server URLs (required), e.g. `nats://127.0.0.2:4222`
 * - `CID_NATS_CREDS`    path of the user's `.creds` file (prod: `/run/cim-cid-service/nats.creds`, copied there by root)
 * - `CID_INBOX_PREFIX`  the user's own inbox prefix (`_INBOX_cid-service`); its JWT allows only that
 * - `CID_BUCKET`        object bucket, default CLUSTER_OBJECTS
 * - `CID_SUBJECT_PREFIX` default `cimstor.objects`
 * - `CID_HEALTH_ADDR`   `host:port` of an HTTP `/healthz` (200 while connected and subscribed); none when unset
 *
 * Reconnects forever through server restarts (the subscriptions come back with the connection);
 * SIGTERM or SIGINT drains: in-flight requests are answered, then the process exits 0.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import { credsAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { DEFAULT_BUCKET, DEFAULT_SUBJECT_PREFIX } from "./cid";
import { startCidService } from "./service";
import { natsClientTls } from "../tls/client";

const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);

function env(name: string, fallback?: string): string {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === "") {
    log(`${name} is not set: see components/cid/service-main.ts for the settings`);
    process.exit(2);
  }
  return v;
}

async function main(): Promise<void> {
  const servers = env("CID_NATS_URLS").split(",").map((s) => s.trim()).filter(Boolean);
  const credsPath = process.env.CID_NATS_CREDS;
  // The stack's CA (PEM file) when the servers require TLS: trust it alone (tls/client.ts).
  const caPath = process.env.CID_NATS_CA;
  const bucket = env("CID_BUCKET", DEFAULT_BUCKET);
  const subjectPrefix = env("CID_SUBJECT_PREFIX", DEFAULT_SUBJECT_PREFIX);
  const inboxPrefix = process.env.CID_INBOX_PREFIX;
  const nc: NatsConnection = await connect({
    servers,
    name: "cid-service",
    ...(credsPath ? { authenticator: credsAuthenticator(fs.readFileSync(credsPath)) } : {}),
    ...(caPath ? { tls: natsClientTls(fs.readFileSync(caPath, "utf8"), servers) } : {}),
    ...(inboxPrefix ? { inboxPrefix } : {}),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: true,
  });
  let connected = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") connected = false;
      if (s.type === "reconnect") connected = true;
      if (s.type === "disconnect" || s.type === "reconnect" || s.type === "error") log(`nats: ${s.type}${"server" in s ? ` ${String(s.server)}` : ""}`);
    }
  })();
  // Unfinished uploads held at once, all clients together (a memory cap).
  const pending = process.env.CID_MAX_PENDING_BYTES ? Number(process.env.CID_MAX_PENDING_BYTES) : undefined;
  const service = await startCidService(nc, { bucket, subjectPrefix, log, ...(pending !== undefined && Number.isFinite(pending) && pending > 0 ? { maxPendingBytes: pending } : {}) });
  log(`cid-service: serving ${subjectPrefix}.put and ${subjectPrefix}.get.<cid> over bucket ${bucket} at ${nc.getServer()} (chunk ${service.chunkBytes} bytes)`);

  let server: http.Server | undefined;
  const healthAddr = process.env.CID_HEALTH_ADDR;
  if (healthAddr) {
    const at = healthAddr.lastIndexOf(":");
    server = http.createServer((req, res) => {
      const ok = connected && !nc.isClosed() && !nc.isDraining();
      res.writeHead(req.url === "/healthz" ? (ok ? 200 : 503) : 404, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: ok ? "ok" : "unavailable", pid: process.pid, bucket, subjectPrefix, server: nc.getServer(), ...service.stats }));
    });
    await new Promise<void>((resolve, reject) => {
      server!.once("error", reject);
      server!.listen(Number(healthAddr.slice(at + 1)), healthAddr.slice(0, at), resolve);
    });
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`cid-service: ${signal}, draining`);
    server?.close();
    nc.drain()
      .then(() => {
        log(`cid-service: drained (${JSON.stringify(service.stats)})`);
        process.exit(0);
      })
      .catch((e: Error) => {
        log(`cid-service: drain failed: ${e.message}`);
        process.exit(1);
      });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  await nc.closed();
  if (!stopping) {
    log("cid-service: connection closed");
    process.exit(1);
  }
}

main().catch((e: Error) => {
  log(`cid-service: ${e.message}`);
  process.exit(1);
});
