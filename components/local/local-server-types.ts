/**
 * What a local nats-server resource is: its inputs, the state the stack records (hashes, never
 * the config text or secrets), its id, and the content hashes. Pure data and small functions.
 */
import { createHash } from "node:crypto";
import * as path from "node:path";

/** What one local server is made of (the provider's inputs, after Pulumi resolved them). */
/** Which /healthz a wait asks for. */
export type HealthCheck =
  /** Full /healthz: for a clustered member a JetStream meta leader and every asset current. */
  | "full"
  /** `/healthz?js-server-only=true`: the server accepts connections and JetStream runs (a lone new hub member). */
  | "js-server-only";

export type LocalServerInputs = {
  /** `server_name`; also the last segment of `dataDir`. Changing it replaces the server. */
  readonly serverName: string;
  /**
   * nats-server config text (secret when it embeds secrets). A change nats-server can reload is
   * applied by SIGHUP; a restart-only change restarts the server (reload-rules.ts).
   */
  readonly configText: string;
  /**
   * Absolute folder of this server (`.cim-dev/<stack>/<serverName>`): config, log, pid file,
   * extra files and — when the config's `store_dir` points here — the JetStream store.
   * Changing it replaces the server.
   */
  readonly dataDir: string;
  /** `http://<address>:<monitoring port>`, polled for /healthz. Changing it restarts the server. */
  readonly monitoringUrl: string;
  /** nats-server binary. Default: the pinned `.tools/bin/nats-server`. Changing it restarts the server. */
  readonly binary?: string;
  /** Extra files written 0600 into the folder before start, relative path → content (creds). Default none. */
  readonly files?: Readonly<Record<string, string>>;
  /** How long create/update wait for /healthz. Default 60 s. Changing it alone changes nothing. */
  readonly healthTimeoutSeconds?: number;
  /**
   * What create waits for: "full" /healthz (default), or "js-server-only" for a hub member that
   * starts before a quorum of its peers (a lone member answers 503 until a meta leader exists).
   * Updates always wait for the full check (and, clustered, for JetStream to be current).
   */
  readonly createHealthCheck?: HealthCheck;
  /**
   * Seconds a lame duck stop (SIGUSR2) may take before SIGKILL: above the config's
   * `lame_duck_duration`. Default 40. Changing it alone changes nothing.
   */
  readonly stopTimeoutSeconds?: number;
  /**
   * Creds (text) of a user in the JetStream account allowed to call
   * `$JS.API.STREAM.LEADER.STEPDOWN.>` and `$JS.API.CONSUMER.LEADER.STEPDOWN.>`. With it, a hub
   * member's restart first moves its stream and consumer leaderships away through the API, which
   * drops no request, instead of leaving that to lame duck, which drops a few (leader-handoff.ts);
   * a leaf's restart nudges the hub's sources with it (`hubClientUrls`).
   * Secret; never kept in the state. Default none. Changing it alone changes nothing.
   */
  readonly leaderHandoffCreds?: string;
  /**
   * Monitoring URLs of the other hub members (a hub member only). A member found dead (an
   * interrupted roll, a reboot) waits after its start for JetStream to be current whenever the
   * members running now make a quorum with it, so the next member in the chain never stops
   * before it is current; only when too few run (all went down) does it wait for its own server
   * alone, as create does. Default none (the create check). Changing it alone changes nothing.
   */
  readonly peerMonitoringUrls?: readonly string[];
  /**
   * Client URLs of the hub (a leaf only). With `leaderHandoffCreds`, after a restart the leaf
   * asks the hub to step down the leader of every stream sourcing from it, so the new leader
   * sets the sources up at once instead of after nats-server's source retry backoff
   * (jetstream/source-nudge.ts). Default none. Changing it alone changes nothing.
   */
  readonly hubClientUrls?: readonly string[];
  /**
   * Filled by check from the store dir (the id marker found there; absent when the store is
   * gone), so preview knows the id that an unchanged store keeps. Not set by callers.
   */
  readonly storeId?: string;
};

/** What the stack records about a running local server. Holds no secret: contents are hashed. */
export type LocalServerState = {
  readonly serverName: string;
  readonly dataDir: string;
  readonly monitoringUrl: string;
  /** Present when the inputs named one. */
  readonly binary?: string;
  readonly configPath: string;
  readonly logPath: string;
  /** The process started by the last create/update. */
  readonly pid: number;
  /** Whether `pid` was a nats-server serving `configPath` when last looked at. */
  readonly running: boolean;
  /** sha256 of the config text, so a change is seen without keeping the text in state. */
  readonly configHash: string;
  /** sha256 over the extra files' names and contents. */
  readonly filesHash: string;
  /** Names of the extra files, so an update removes the ones no longer declared. */
  readonly fileNames: readonly string[];
  /**
   * Identity of the JetStream store: a random id kept in `<store_dir>/cim-store-id`, new when
   * the store is created or found wiped. Streams and buckets take it as an input so they are
   * declared again on a new store. Absent in states recorded before it existed.
   */
  readonly storeId?: string;
  /** What the last create/update did: "created", "reloaded: …", "restarted: …", "files: …" or "none". */
  readonly lastChange?: string;
  /** Seconds a lame duck stop may take before SIGKILL (the inputs' value, so delete knows it). */
  readonly stopTimeoutSeconds?: number;
};

export type CheckFailure = { readonly property: string; readonly reason: string };

/** The result shape Pulumi's dynamic provider expects from diff. */
export type LocalServerDiff = {
  readonly changes: boolean;
  readonly replaces: readonly string[];
  readonly deleteBeforeReplace: boolean;
  /** Why it changes, for messages and tests (e.g. ["configText", "running"]). */
  readonly changed: readonly string[];
};

export const DEFAULT_HEALTH_TIMEOUT_SECONDS = 60;
export const DEFAULT_STOP_TIMEOUT_SECONDS = 40;
const ID_PREFIX = "local-server:";

/** `local-server:<dataDir>`: the folder is what makes a local server unique on the machine. */
export function localServerId(dataDir: string): string {
  return `${ID_PREFIX}${dataDir}`;
}

/** The folder a `local-server:<dataDir>` id names; throws on anything else. */
export function parseLocalServerId(id: string): string {
  if (!id.startsWith(ID_PREFIX) || !path.isAbsolute(id.slice(ID_PREFIX.length))) {
    throw new Error(`malformed local server id '${id}': expected '${ID_PREFIX}<absolute data dir>'`);
  }
  return id.slice(ID_PREFIX.length);
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export function filesHash(files: Readonly<Record<string, string>>): string {
  const sorted = Object.keys(files)
    .sort()
    .map((k) => [k, files[k]]);
  return sha256(JSON.stringify(sorted));
}

/** The hashes the state keeps in place of the config text and file contents. */
export function contentHashes(inputs: Pick<LocalServerInputs, "configText" | "files">): Pick<LocalServerState, "configHash" | "filesHash"> {
  return { configHash: sha256(inputs.configText), filesHash: filesHash(inputs.files ?? {}) };
}

