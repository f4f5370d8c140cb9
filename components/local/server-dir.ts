/**
 * The folder of one local nats-server: its config, log, pid file, extra files (creds) and its
 * JetStream store, all under one directory (`.cim-dev/<stack>/<serverName>/`), so deleting the
 * server is deleting the folder. Node built-ins only: the dynamic provider runs this code in
 * Pulumi's provider process.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** Where a server's files live inside its folder. */
export type ServerPaths = {
  readonly dataDir: string;
  /** `<dataDir>/nats.conf` (0600: may embed account JWTs; creds sit beside it). */
  readonly configPath: string;
  /** `<dataDir>/nats.log`: stdout and stderr of the process, appended across restarts. */
  readonly logPath: string;
  /** `<dataDir>/nats.pid`: written by nats-server (`-P`). */
  readonly pidPath: string;
};

export function serverPaths(dataDir: string): ServerPaths {
  return {
    dataDir,
    configPath: path.join(dataDir, "nats.conf"),
    logPath: path.join(dataDir, "nats.log"),
    pidPath: path.join(dataDir, "nats.pid"),
  };
}

/**
 * File names the provider itself owns: an extra file must not overwrite them. An array, not a
 * Set: Pulumi's closure serializer copies a Set as an empty object (its entries are lost).
 */
const RESERVED_NAMES: readonly string[] = ["nats.conf", "nats.log", "nats.pid", "jetstream", "cim-store-id"];

/**
 * Why `dataDir` cannot be a server folder ("" when it can). It must be absolute and end in the
 * server name, so that delete — which removes the whole folder — can only ever remove a folder
 * named after the server it stops.
 */
export function dataDirReason(dataDir: string, serverName: string): string {
  if (!path.isAbsolute(dataDir)) {
    return `dataDir '${dataDir}' must be an absolute path; resolve it against the project directory first`;
  }
  if (path.resolve(dataDir) !== dataDir) {
    return `dataDir '${dataDir}' must be normalized (no '..', '.', '//' or trailing '/'); use path.resolve`;
  }
  if (path.basename(dataDir) !== serverName) {
    return `dataDir '${dataDir}' must end in the server name '${serverName}' (e.g. '${path.join(path.dirname(dataDir), serverName)}'), since delete removes the whole folder`;
  }
  if (dataDir.split("/").filter(Boolean).length < 2) {
    return `dataDir '${dataDir}' is too close to '/'; put servers under a project folder such as .cim-dev/<stack>/${serverName}`;
  }
  return "";
}

/** Why `relpath` cannot name a file inside a folder ("" when it can): relative, normalized, no '..'. */
export function relativeFileReason(relpath: string): string {
  if (relpath === "" || path.isAbsolute(relpath)) return `file '${relpath}' must be a relative path inside the folder`;
  const normal = path.posix.normalize(relpath);
  if (normal !== relpath || normal.split("/").includes("..")) {
    return `file '${relpath}' must be a normalized relative path without '..' (e.g. 'leaf-link.creds')`;
  }
  return "";
}

/** Why `relpath` cannot name an extra file in a server folder ("" when it can). */
export function extraFileReason(relpath: string): string {
  const reason = relativeFileReason(relpath);
  if (reason) return reason;
  const first = relpath.split("/")[0];
  if (RESERVED_NAMES.includes(first)) return `file '${relpath}' would overwrite the server's own '${first}'; pick another name`;
  return "";
}

/** Creates the folder (0700) and writes the config and extra files (0600), replacing old ones. */
export function writeServerFiles(dataDir: string, configText: string, files: Readonly<Record<string, string>>): ServerPaths {
  const paths = serverPaths(dataDir);
  for (const relpath of Object.keys(files)) {
    const reason = extraFileReason(relpath);
    if (reason) throw new Error(reason);
  }
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writePrivate(paths.configPath, configText);
  writePrivateFiles(dataDir, files);
  return paths;
}

/** Writes `files` (relative path → content) under `dir`, folders 0700 and files 0600. */
export function writePrivateFiles(dir: string, files: Readonly<Record<string, string>>): void {
  for (const [relpath, content] of Object.entries(files)) {
    const reason = relativeFileReason(relpath);
    if (reason) throw new Error(reason);
    const target = path.join(dir, relpath);
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
    writePrivate(target, content);
  }
}

/** Writes via a temp file and rename, 0600 from the first byte, so no reader sees half a file. */
function writePrivate(target: string, content: string): void {
  const temp = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(temp, content, { mode: 0o600 });
  fs.chmodSync(temp, 0o600);
  fs.renameSync(temp, target);
}

/** Removes a server folder (config, log, creds, JetStream store). Missing is fine. */
export function removeServerDir(dataDir: string, serverName: string): void {
  const reason = dataDirReason(dataDir, serverName);
  if (reason) throw new Error(`refusing to remove '${dataDir}': ${reason}`);
  fs.rmSync(dataDir, { recursive: true, force: true });
}

/** The last lines of a server's log, for error messages. */
export function logTail(logPath: string, lines = 20): string {
  try {
    return fs.readFileSync(logPath, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log yet)";
  }
}

/** The pid nats-server wrote to its pid file, or undefined. */
export function readPidFile(pidPath: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidPath, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** A line in the server's own log, so whoever reads it sees what the stack did and why. */
export function noteInLog(logPath: string, line: string): void {
  try {
    fs.appendFileSync(logPath, `[cim-nats] ${new Date().toISOString()} ${line}\n`);
  } catch {
    // the log is a courtesy; a missing folder shows up elsewhere
  }
}
