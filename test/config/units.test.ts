/**
 * The stack config's one size grammar and one duration grammar, checked against what the pinned
 * nats-server accepts (`nats-server -t`): every value we accept, the server accepts both bare and
 * quoted (the renderer quotes); every value we refuse, the server refuses in at least the quoted form.
 */
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parseByteSize, parseDurationMs, parseDurationNanos } from "../../components/config/units";
import { checkServerConfig } from "../render/nats-server-check";

const storeDir = JSON.stringify(path.join(os.tmpdir(), "cim-nats-units-never-created"));
const sizeConf = (literal: string) => `jetstream { store_dir: ${storeDir}\n  max_file: ${literal}\n}\n`;
const durationConf = (literal: string) => `write_deadline: ${literal}\n`;

describe("sizes", () => {
  it.each([
    ["1G", 1e9],
    ["256M", 256e6],
    ["10G", 10e9],
    ["1T", 1e12],
    ["512K", 512e3],
    ["0", 0],
    ["1024", 1024],
  ])("%s is %d bytes, and nats-server takes it bare and quoted", (text, bytes) => {
    expect(parseByteSize(text)).toBe(bytes);
    expect(checkServerConfig(sizeConf(text)).valid).toBe(true);
    if (/[KMGT]$/.test(text)) expect(checkServerConfig(sizeConf(JSON.stringify(text))).output).toMatch(/is valid/);
  });

  it.each([
    ["1.5G", /did you mean '1500M'/],
    ["1GB", /did you mean '1G'/],
    ["1Gi", /did you mean '1G'/],
    ["2g", /did you mean '2G'/],
    ["1 G", /did you mean '1G'/],
    ["lots", /is not a size/],
  ])("%s is refused with the form to write (%s), as nats-server refuses it quoted", (text, reason) => {
    expect(parseByteSize(text)).toEqual(expect.stringMatching(reason));
    expect(checkServerConfig(sizeConf(JSON.stringify(text))).valid).toBe(false);
  });

  it("-1 is a size only where unlimited is meant", () => {
    expect(parseByteSize(-1)).toBe(-1);
    expect(parseByteSize(-1, { unlimited: false })).toMatch(/not a whole number of bytes/);
  });
});

describe("durations", () => {
  it.each([
    ["2s", 2e9],
    ["500ms", 5e8],
    ["1m30s", 90e9],
    ["1.5s", 1.5e9],
    ["720h", 720 * 3600e9],
    ["100us", 1e5],
    ["0", 0],
  ])("%s is %d ns, and nats-server takes it", (text, nanos) => {
    expect(parseDurationNanos(text)).toBe(nanos);
    expect(checkServerConfig(durationConf(JSON.stringify(text))).valid).toBe(true);
  });

  it.each([
    ["30d", /did you mean '720h'/],
    ["1w", /did you mean '168h'/],
    ["2", /did you mean '2s'/],
    ["2S", /is not a duration/],
    ["-1s", /is not a duration/],
    [" 2s", /did you mean '2s'/],
  ])("%s is refused (%s)", (text, reason) => {
    expect(parseDurationNanos(text, "max_age")).toEqual(expect.stringMatching(/^max_age: /));
    expect(parseDurationNanos(text)).toEqual(expect.stringMatching(reason));
    // nats-server refuses all but a negative one, which no setting of ours means.
    if (text !== "-1s") expect(checkServerConfig(durationConf(JSON.stringify(text))).valid).toBe(false);
  });

  it("milliseconds must be whole (a JWT response TTL has no finer unit)", () => {
    expect(parseDurationMs("1.5s")).toBe(1500);
    expect(parseDurationMs("1500us")).toMatch(/not a whole number of milliseconds: round it, e.g. 2ms/);
  });
});
