/**
 * A local server's JetStream store identity: a marker file with a random id, written into the
 * store dir when the server is created (or its store is found gone), so a wiped or replaced store
 * (folder deleted, disk swapped) is seen by the next diff as drift, and the streams and buckets
 * that take the id as an input are declared again. Node built-ins only (provider process).
 */
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { blockField, readRenderedConf } from "./conf-reader";

/** File name of the marker inside the store dir (beside nats-server's own `jetstream/`). */
export const STORE_ID_FILE = "cim-store-id";

/** Where a server keeps its store: the config's `jetstream.store_dir`, else its folder. */
export type StoreLocation = {
  /** Folder the marker goes in. */
  readonly dir: string;
  /** Whether the config runs JetStream with a store there, so `<dir>/jetstream` must exist once started. */
  readonly jetstream: boolean;
};

export function storeLocation(configText: string, dataDir: string): StoreLocation {
  const tree = readRenderedConf(configText);
  const dir = blockField(tree, "jetstream", "store_dir");
  if (typeof dir === "string" && path.isAbsolute(dir)) return { dir, jetstream: true };
  // Not a rendered config (hand-written in a test): the folder, and only the marker counts.
  return { dir: dataDir, jetstream: false };
}

/**
 * The id recorded in the store now, or undefined when the store is gone: no marker, or a
 * JetStream config whose `<store_dir>/jetstream` folder has disappeared.
 */
export function storeIdOnDisk(configText: string, dataDir: string): string | undefined {
  const where = storeLocation(configText, dataDir);
  let id: string;
  try {
    id = fs.readFileSync(path.join(where.dir, STORE_ID_FILE), "utf8").trim();
  } catch {
    return undefined;
  }
  if (!id) return undefined;
  if (where.jetstream && !fs.existsSync(path.join(where.dir, "jetstream"))) return undefined;
  return id;
}

/** Writes a new random id into the store dir (0600) and returns it. */
export function writeNewStoreId(configText: string, dataDir: string): string {
  const { dir } = storeLocation(configText, dataDir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const id = randomUUID();
  const target = path.join(dir, STORE_ID_FILE);
  const temp = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(temp, `${id}\n`, { mode: 0o600 });
  fs.renameSync(temp, target);
  return id;
}
