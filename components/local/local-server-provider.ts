/**
 * The LocalNatsServer dynamic provider's methods (local-server.ts loads this file in Pulumi's
 * provider process and calls them by name), so they take and return exactly what
 * pulumi.dynamic.ResourceProvider does; the work is in local-server-crud.ts.
 */
import { createLocalServer, deleteLocalServer, diffLocalServer, readLocalServer, refuseUnapprovedDataLoss, updateLocalServer } from "./local-server-crud";
import type { CheckFailure, LocalServerInputs, LocalServerState } from "./local-server-types";
import { checkLocalServer } from "./server-checks";
import { storeIdOnDisk } from "./store-identity";

export async function checkLocalServerProvider(_olds: unknown, news: LocalServerInputs): Promise<{ inputs: LocalServerInputs; failures: CheckFailure[] }> {
  const failures = checkLocalServer(news);
  if (failures.length > 0) return { inputs: news, failures };
  // The store's id as it is now: preview then shows an unchanged store's id as known.
  const { storeId: _given, ...rest } = news;
  const storeId = storeIdOnDisk(news.configText, news.dataDir);
  return { inputs: storeId === undefined ? rest : { ...rest, storeId }, failures };
}

export async function diffLocalServerProvider(_id: string, state: LocalServerState, news: LocalServerInputs) {
  const d = diffLocalServer(state, news);
  return { changes: d.changes, replaces: [...d.replaces], deleteBeforeReplace: d.deleteBeforeReplace };
}

export async function createLocalServerProvider(inputs: LocalServerInputs): Promise<{ id: string; outs: LocalServerState }> {
  return createLocalServer(inputs);
}

export async function readLocalServerProvider(id: string, state?: LocalServerState): Promise<{ id: string; props: LocalServerState }> {
  if (!state) throw new Error(`local server '${id}' cannot be read without its recorded state: the stack creates it, it cannot be imported`);
  return readLocalServer(id, state);
}

export async function updateLocalServerProvider(_id: string, state: LocalServerState, news: LocalServerInputs): Promise<{ outs: LocalServerState }> {
  return { outs: await updateLocalServer(state, news) };
}

export async function deleteLocalServerProvider(_id: string, state: LocalServerState): Promise<void> {
  // A Pulumi delete is part of a run: it needs that run's approval to drop a leaf's data.
  await refuseUnapprovedDataLoss(state);
  await deleteLocalServer(state);
}
