/**
 * How an update applies new inputs to a running local server, decided from data (pure): what the
 * server runs now (its config on disk, whether its process lives, whether its store is the one
 * recorded) and the new inputs, by the reload rules (components/render/reload-rules.ts).
 */
import { classifyConfigChange } from "../render/reload-rules";
import { routeTransportChanges } from "../render/route-transport";
import { readRenderedConf } from "./conf-reader";
import { filesHash, sha256, type LocalServerInputs, type LocalServerState } from "./local-server-types";

/** What the server is found doing, read by the caller from /proc and the disk. */
export type RunningFacts = {
  /** A process of ours serves this folder's config. */
  readonly running: boolean;
  /** The config text on disk (what the server runs), when there is one. */
  readonly configOnDisk?: string;
  /** The store's id marker is missing or different (the store was wiped or replaced). */
  readonly storeDrifted: boolean;
};

/** How an update applies new inputs to a running server. */
export type LocalServerUpdatePlan = {
  /** "none": nothing to do; "files": rewrite extra files only; "reload": SIGHUP; "restart": stop and start. */
  readonly action: "none" | "files" | "reload" | "restart";
  /** Why, one line each (reload-rules' reasons for a config change). */
  readonly because: readonly string[];
  /**
   * A hub member whose route transport changes (render/route-transport.ts): old and new members
   * cannot route to each other, so this restart waits only for the server, as create does
   * (`createHealthCheck`: the chain's last member waits for the whole cluster).
   */
  readonly transportChange?: readonly string[];
};

/**
 * Reload or restart? Compares the config on disk (what the server runs) with the new text by
 * reload-rules; a text that cannot be read back (not rendered by formatNatsConf) restarts.
 */
export function planUpdate(facts: RunningFacts, state: LocalServerState, inputs: LocalServerInputs): LocalServerUpdatePlan {
  const restart: string[] = [];
  if (!facts.running) restart.push("the server is not running");
  if (state.monitoringUrl !== inputs.monitoringUrl) restart.push(`monitoring URL ${state.monitoringUrl} -> ${inputs.monitoringUrl}`);
  if (state.binary !== inputs.binary) restart.push("another nats-server binary");
  if (facts.storeDrifted) restart.push("the JetStream store was wiped or replaced (store id marker gone)");
  const running = facts.configOnDisk;
  const configChanged = state.configHash !== sha256(inputs.configText) || running === undefined || sha256(running) !== state.configHash;
  const reload: string[] = [];
  const transport: string[] = [];
  if (configChanged) {
    const oldTree = running === undefined ? undefined : readRenderedConf(running);
    const newTree = readRenderedConf(inputs.configText);
    if (!oldTree || !newTree) restart.push("the config on disk or the new config is not one the stack renders, so it cannot be classified");
    else {
      const change = classifyConfigChange(oldTree, newTree);
      restart.push(...change.restartBecause);
      reload.push(...change.reloadBecause);
      transport.push(...routeTransportChanges(oldTree, newTree));
    }
  }
  if (restart.length > 0) return { action: "restart", because: restart, ...(transport.length > 0 ? { transportChange: transport } : {}) };
  if (reload.length > 0) return { action: "reload", because: reload };
  // nats-server reads certificates, keys, CA files and includes (route authorization) again only
  // on SIGHUP: a changed extra file is a reload (creds-only changes cost a no-op reload).
  if (state.filesHash !== filesHash(inputs.files ?? {})) {
    return { action: "reload", because: ["extra files changed (certificates, keys, CA, cluster include or creds): nats-server re-reads them on SIGHUP"] };
  }
  return { action: "none", because: [] };
}
