import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatNatsConf, quoteConfString } from "../../components/render/nats-conf";
import { startNatsServer, stopNatsServer, waitHealthy } from "../../components/local/nats-process";
import { freePort } from "../../harness/free-port";
import { checkServerConfig } from "./nats-server-check";

describe("formatNatsConf", () => {
  it("writes nested blocks, lists, numbers and booleans", () => {
    expect(
      formatNatsConf({ server_name: "n", port: 4222, debug: false, jetstream: { max_mem: "1G" }, routes: ["a", "b"], empty: [] }),
    ).toBe(
      ['server_name: "n"', "port: 4222", "debug: false", "jetstream: {", '  max_mem: "1G"', "}", "routes: [", '  "a"', '  "b"', "]", "empty: []", ""].join("\n"),
    );
  });

  it.each([
    ["plain", "nats-1", '"nats-1"'],
    ["a size stays a string", "1G", '"1G"'],
    ["a variable stays literal", "$KV.X.>", '"$KV.X.>"'],
    ["quote and backslash", 'a"b\\c', '"a\\"b\\\\c"'],
    ["newline and tab", "a\nb\tc", '"a\\nb\\tc"'],
  ])("quotes %s", (_case, value, expected) => {
    expect(quoteConfString(value)).toBe(expected);
  });

  it("refuses control characters it cannot escape, naming the value", () => {
    expect(() => quoteConfString("a\u0001b")).toThrow(/"a\\u0001b" contains control character U\+0001/);
  });

  it("quotes keys that are not plain identifiers", () => {
    expect(formatNatsConf({ "a.b": 1, A_B: 2 })).toBe('"a.b": 1\nA_B: 2\n');
  });

  it("names the path of a value it cannot write", () => {
    expect(() => formatNatsConf({ jetstream: { max_mem: Number.NaN } })).toThrow("config value at jetstream.max_mem is NaN");
  });
});

describe("formatNatsConf read back by a real nats-server", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cim-nats-conf-"));
  let pid: number | undefined;
  afterAll(async () => {
    if (pid) await stopNatsServer(pid);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("keeps quotes, backslashes, '$', '#' and braces in strings intact", async () => {
    const [client, monitoring] = [await freePort(), await freePort()];
    const tricky = 'odd"name\\with$VAR#and{braces}';
    const deny = ["$KV.PERSON_METADATA.>", "$O.PERSON_OBJECTS.>"];
    const text = formatNatsConf({
      server_name: tricky,
      listen: `127.0.0.1:${client}`,
      http: `127.0.0.1:${monitoring}`,
      leafnodes: { remotes: [{ urls: ["nats-leaf://127.0.0.1:1"], deny_imports: deny }] },
    });
    expect(checkServerConfig(text).valid).toBe(true);
    const configPath = path.join(dir, "server.conf");
    fs.writeFileSync(configPath, text);
    pid = (await startNatsServer({ configPath, logPath: path.join(dir, "server.log") })).pid;
    await waitHealthy(`http://127.0.0.1:${monitoring}`, 15_000, pid);
    const varz = (await (await fetch(`http://127.0.0.1:${monitoring}/varz`)).json()) as any;
    expect(varz.server_name).toBe(tricky);
    expect(varz.leaf.remotes[0].deny.imports).toEqual(deny);
  });
});
