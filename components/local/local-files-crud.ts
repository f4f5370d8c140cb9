/**
 * A folder of private files on this machine as a resource — the dev stack's client creds and
 * `nats` contexts (`.cim-dev/<stack>/clients/`), so `nats --context …` works right after `up`
 * and `destroy` takes the secrets away again. Plain CRUD functions over Node built-ins, called
 * by the LocalFiles dynamic provider (local-files.ts) and directly by tests.
 *
 * Contents are secrets: the state keeps their names and a hash, never the text.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { relativeFileReason, writePrivateFiles } from "./server-dir";

export type LocalFilesInputs = {
  /** Absolute folder the files go in; created 0700. Changing it replaces the resource. */
  readonly dir: string;
  /** Relative path → content, written 0600. */
  readonly files: Readonly<Record<string, string>>;
};

export type LocalFilesState = {
  readonly dir: string;
  /** The files written, sorted; delete removes exactly these. */
  readonly fileNames: readonly string[];
  /** sha256 over names and contents. */
  readonly filesHash: string;
  /** Whether every file was on disk with the written content when last looked at. */
  readonly intact: boolean;
};

const ID_PREFIX = "local-files:";

function hashFiles(files: Readonly<Record<string, string>>): string {
  const sorted = Object.keys(files)
    .sort()
    .map((k) => [k, files[k]]);
  return createHash("sha256").update(JSON.stringify(sorted)).digest("hex");
}

/** The hash of what is on disk now for `names` (a missing file hashes differently from any content). */
function hashOnDisk(dir: string, names: readonly string[]): string {
  const onDisk: Record<string, string> = {};
  for (const name of names) {
    try {
      onDisk[name] = fs.readFileSync(path.join(dir, name), "utf8");
    } catch {
      return "missing";
    }
  }
  return hashFiles(onDisk);
}

/** Every problem with the inputs, each naming the property. */
export function checkLocalFiles(inputs: LocalFilesInputs): { property: string; reason: string }[] {
  const failures: { property: string; reason: string }[] = [];
  if (typeof inputs.dir !== "string" || !path.isAbsolute(inputs.dir) || path.resolve(inputs.dir) !== inputs.dir) {
    failures.push({ property: "dir", reason: `dir '${inputs.dir}' must be an absolute, normalized folder (use path.resolve)` });
  } else if (inputs.dir.split("/").filter(Boolean).length < 2) {
    failures.push({ property: "dir", reason: `dir '${inputs.dir}' is too close to '/'; use a project folder such as .cim-dev/<stack>/clients` });
  }
  for (const relpath of Object.keys(inputs.files ?? {})) {
    const reason = relativeFileReason(relpath);
    if (reason) failures.push({ property: `files.${relpath}`, reason });
  }
  return failures;
}

function written(inputs: LocalFilesInputs): LocalFilesState {
  fs.mkdirSync(inputs.dir, { recursive: true, mode: 0o700 });
  writePrivateFiles(inputs.dir, inputs.files);
  return { dir: inputs.dir, fileNames: Object.keys(inputs.files).sort(), filesHash: hashFiles(inputs.files), intact: true };
}

/** Removes `names` under `dir`, then every folder left empty, up to and including `dir`. */
function removeFiles(dir: string, names: readonly string[]): void {
  const folders = new Set<string>([dir]);
  for (const name of names) {
    if (relativeFileReason(name)) continue;
    fs.rmSync(path.join(dir, name), { force: true });
    for (let d = path.dirname(path.join(dir, name)); d.startsWith(dir + path.sep); d = path.dirname(d)) folders.add(d);
  }
  // Deepest first, so a parent is empty by the time it is tried.
  for (const folder of [...folders].sort((a, b) => b.length - a.length)) {
    try {
      fs.rmdirSync(folder);
    } catch {
      // not empty (someone else's file) or already gone: leave it
    }
  }
}

export async function createLocalFiles(inputs: LocalFilesInputs): Promise<{ id: string; outs: LocalFilesState }> {
  return { id: `${ID_PREFIX}${inputs.dir}`, outs: written(inputs) };
}

export function readLocalFiles(id: string, state: LocalFilesState): { id: string; props: LocalFilesState } {
  return { id, props: { ...state, intact: hashOnDisk(state.dir, state.fileNames) === state.filesHash } };
}

export function diffLocalFiles(state: LocalFilesState, inputs: LocalFilesInputs): { changes: boolean; replaces: string[]; changed: string[] } {
  const changed: string[] = [];
  if (state.dir !== inputs.dir) changed.push("dir");
  if (state.filesHash !== hashFiles(inputs.files)) changed.push("files");
  else if (hashOnDisk(state.dir, state.fileNames) !== state.filesHash) changed.push("intact");
  return { changes: changed.length > 0, replaces: changed.includes("dir") ? ["dir"] : [], changed };
}

export async function updateLocalFiles(state: LocalFilesState, inputs: LocalFilesInputs): Promise<LocalFilesState> {
  const keep = Object.keys(inputs.files);
  removeFiles(state.dir, state.fileNames.filter((n) => !keep.includes(n)));
  return written(inputs);
}

export async function deleteLocalFiles(state: LocalFilesState): Promise<void> {
  removeFiles(state.dir, state.fileNames);
}

// ---------------------------------------------------------------- Pulumi's provider signatures

export async function checkLocalFilesProvider(_olds: unknown, news: LocalFilesInputs) {
  return { inputs: news, failures: checkLocalFiles(news) };
}

export async function diffLocalFilesProvider(_id: string, state: LocalFilesState, news: LocalFilesInputs) {
  const d = diffLocalFiles(state, news);
  return { changes: d.changes, replaces: d.replaces };
}

export async function createLocalFilesProvider(inputs: LocalFilesInputs) {
  return createLocalFiles(inputs);
}

export async function readLocalFilesProvider(id: string, state?: LocalFilesState) {
  if (!state) throw new Error(`local files '${id}' cannot be read without their recorded state: the stack creates them, they cannot be imported`);
  return readLocalFiles(id, state);
}

export async function updateLocalFilesProvider(_id: string, state: LocalFilesState, news: LocalFilesInputs) {
  return { outs: await updateLocalFiles(state, news) };
}

export async function deleteLocalFilesProvider(_id: string, state: LocalFilesState): Promise<void> {
  await deleteLocalFiles(state);
}
