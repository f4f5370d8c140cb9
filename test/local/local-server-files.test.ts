/** LocalFiles' CRUD on a real temp folder: private files the dev stack writes for clients. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkLocalFiles,
  createLocalFiles,
  deleteLocalFiles,
  diffLocalFiles,
  readLocalFiles,
  updateLocalFiles,
} from "../../components/local/local-files-crud";
import { localFilesProvider } from "../../components/local/local-files";

let root = "";
beforeAll(() => {
  root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "cim-local-files-")));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const SECRET = "SUAxxxx-not-a-real-seed";

describe("checkLocalFiles", () => {
  it.each<[string, string, Record<string, string>, string]>([
    ["a relative dir", "clients", {}, "dir"],
    ["a dir with '..'", "/tmp/a/../b", {}, "dir"],
    ["a dir at the root", "/clients", {}, "dir"],
    ["a file escaping the dir", "/tmp/x/clients", { "../a.creds": "x" }, "files.../a.creds"],
    ["an absolute file", "/tmp/x/clients", { "/etc/passwd": "x" }, "files./etc/passwd"],
  ])("rejects %s", (_what, dir, files, property) => {
    expect(checkLocalFiles({ dir, files }).map((f) => f.property)).toEqual([property]);
  });
});

describe("LocalFiles on disk", () => {
  it("create writes every file 0600 in 0700 folders and keeps only a hash in state", async () => {
    const dir = path.join(root, "a", "clients");
    const { id, outs } = await createLocalFiles({ dir, files: { "svc.creds": SECRET, "contexts/nats-1.json": "{}" } });

    expect(id).toBe(`local-files:${dir}`);
    expect(fs.readFileSync(path.join(dir, "svc.creds"), "utf8")).toBe(SECRET);
    expect(fs.statSync(path.join(dir, "svc.creds")).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(dir, "contexts")).mode & 0o777).toBe(0o700);
    expect(outs.fileNames).toEqual(["contexts/nats-1.json", "svc.creds"]);
    expect(JSON.stringify(outs)).not.toContain(SECRET);
    expect(diffLocalFiles(outs, { dir, files: { "svc.creds": SECRET, "contexts/nats-1.json": "{}" } }).changes).toBe(false);
  });

  it("a file removed or edited behind the stack's back shows in read and diff", async () => {
    const dir = path.join(root, "b");
    const inputs = { dir, files: { "svc.creds": SECRET } };
    const { id, outs } = await createLocalFiles(inputs);
    fs.writeFileSync(path.join(dir, "svc.creds"), "tampered");

    expect(readLocalFiles(id, outs).props.intact).toBe(false);
    expect(diffLocalFiles(outs, inputs).changed).toEqual(["intact"]);
    fs.rmSync(path.join(dir, "svc.creds"));
    expect(readLocalFiles(id, outs).props.intact).toBe(false);

    const repaired = await updateLocalFiles(outs, inputs);
    expect(readLocalFiles(id, repaired).props.intact).toBe(true);
  });

  it("update writes new contents and removes files no longer declared", async () => {
    const dir = path.join(root, "c");
    const { outs } = await createLocalFiles({ dir, files: { "old.creds": "o", "keep.creds": "k" } });

    const next = await updateLocalFiles(outs, { dir, files: { "keep.creds": "k2", "new/n.creds": "n" } });

    expect(fs.existsSync(path.join(dir, "old.creds"))).toBe(false);
    expect(fs.readFileSync(path.join(dir, "keep.creds"), "utf8")).toBe("k2");
    expect(next.fileNames).toEqual(["keep.creds", "new/n.creds"]);
  });

  it("delete removes its files and the folders they leave empty, and nothing else", async () => {
    const dir = path.join(root, "d", "clients");
    const { outs } = await createLocalFiles({ dir, files: { "contexts/hub.json": "{}", "svc.creds": SECRET } });
    fs.writeFileSync(path.join(root, "d", "someone-elses.txt"), "stay");

    await deleteLocalFiles(outs);

    expect(fs.existsSync(dir)).toBe(false);
    expect(fs.readFileSync(path.join(root, "d", "someone-elses.txt"), "utf8")).toBe("stay");
    await deleteLocalFiles(outs); // already gone: fine
  });

  it("the provider round-trips through Pulumi's closure serializer", async () => {
    const serialized = await pulumi.runtime.serializeFunction(() => localFilesProvider);
    const requireFromString = require("require-from-string") as (code: string) => { handler: () => pulumi.dynamic.ResourceProvider };
    const provider = requireFromString(serialized.text).handler();
    const dir = path.join(root, "e");

    const { id, outs } = await provider.create({ dir, files: { "x.creds": SECRET } });
    expect(fs.readFileSync(path.join(dir, "x.creds"), "utf8")).toBe(SECRET);
    await provider.delete!(id, outs);
    expect(fs.existsSync(dir)).toBe(false);
  });
});
