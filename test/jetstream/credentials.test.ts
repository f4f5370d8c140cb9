/**
 * Every way a JetStream resource can authenticate, against real servers that demand it:
 * user/password, nkey seed, token, and TLS with a private CA. A wrong secret fails with an
 * error that says what to check (and never echoes the secret).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createUser } from "@nats-io/nkeys";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer, stopNatsServer, waitHealthy } from "../../components/local/nats-process";
import { closeJetStreamConnections } from "../../components/jetstream/connection-pool";
import { createStream, readStream } from "../../components/jetstream/stream";
import type { ConnectionTarget } from "../../components/jetstream/types";
import { freePort } from "../../harness/free-port";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-creds-"));
const pids: number[] = [];
const user = createUser();
const seed = new TextDecoder().decode(user.getSeed());
const PASSWORD = "pw-9f1c2e";
const TOKEN = "tok-51b7a0";

async function server(name: string, auth: string): Promise<string> {
  const [port, http] = [await freePort(), await freePort()];
  const conf = path.join(dir, `${name}.conf`);
  fs.writeFileSync(
    conf,
    [`listen: "127.0.0.1:${port}"`, `http: "127.0.0.1:${http}"`, `jetstream { store_dir: "${path.join(dir, name)}" }`, auth].join("\n"),
  );
  const { pid } = await startNatsServer({ configPath: conf, logPath: path.join(dir, `${name}.log`) });
  pids.push(pid);
  await waitHealthy(`http://127.0.0.1:${http}`, 20_000, pid);
  return `nats://127.0.0.1:${port}`;
}

let users: string;
let token: string;
let tlsUrl: string;
let ca: string;

beforeAll(async () => {
  users = await server(
    "users",
    `authorization { users: [ { user: admin, password: "${PASSWORD}" }, { nkey: "${user.getPublicKey()}" } ] }`,
  );
  token = await server("token", `authorization { token: "${TOKEN}" }`);
  // A private CA and a server certificate for 127.0.0.1 (nats.js checks an IP URL against "localhost").
  const o = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  o(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=cim-nats-test-ca"]);
  o(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
  fs.writeFileSync(path.join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  o(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "san.ext"]);
  ca = fs.readFileSync(path.join(dir, "ca.pem"), "utf8");
  tlsUrl = await server("tls", `tls { cert_file: "${path.join(dir, "server.pem")}", key_file: "${path.join(dir, "server.key")}" }`);
}, 60_000);

afterAll(async () => {
  await closeJetStreamConnections();
  for (const pid of pids) await stopNatsServer(pid);
  fs.rmSync(dir, { recursive: true, force: true });
});

const stream = (name: string, target: ConnectionTarget) => createStream({ name, subjects: [`${name.toLowerCase()}.>`], storage: "memory", target });

describe("JetStream resources authenticate", () => {
  it.each([
    ["user/password", () => ({ servers: [users], credentials: { user: "admin", password: PASSWORD } })],
    ["nkey seed", () => ({ servers: [users], credentials: { seed } })],
    ["token", () => ({ servers: [token], credentials: { token: TOKEN } })],
    ["TLS with a private CA", () => ({ servers: [tlsUrl], tls: { ca } })],
  ] as [string, () => ConnectionTarget][])("with %s: create, then read back", async (what, target) => {
    const name = `AUTH_${what.replace(/[^a-z]/gi, "_").toUpperCase()}`;
    const { id } = await stream(name, target());
    expect(id).toBe(`stream:/${name}`);
    const read = await readStream(id, { target: target() });
    expect(read.id).toBe(id);
    expect(read.props?.name).toBe(name);
    expect(read.props?.subjects).toEqual([`${name.toLowerCase()}.>`]);
  });

  it.each([
    ["a wrong password", () => ({ servers: [users], credentials: { user: "admin", password: "nope-nope" } }), "nope-nope"],
    ["a wrong token", () => ({ servers: [token], credentials: { token: "bad-token-x" } }), "bad-token-x"],
    ["TLS without the CA", () => ({ servers: [tlsUrl] }), ""],
  ] as [string, () => ConnectionTarget, string][])("with %s: a clear error, no secret in it", async (_, target, secret) => {
    const err = await stream("NEVER", target()).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/cannot connect to nats:\/\/127\.0\.0\.1:\d+.*check that the servers run and that target\.servers and target\.credentials are right/);
    if (secret) expect(err?.message).not.toContain(secret);
  });
});
