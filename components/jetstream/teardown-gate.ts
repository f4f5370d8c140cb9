/**
 * `TeardownGate`: the first step of a `pulumi destroy` (`npm run dev:down`), deciding for the whole
 * teardown whether it may drop data — before anything is deleted.
 *
 * It depends on every other resource of the stack, so Pulumi deletes it first and, when its
 * delete fails, nothing else. Its delete asks every declared store (user-data.ts): with
 * `allowDataLoss` off, a store holding user data, or one whose servers cannot be asked, refuses
 * the whole destroy with one line per store. Otherwise it approves every store's delete for this
 * run and records every domain as leaving (data-loss.ts), so a store, entry or consumer on a
 * server that is already down goes with its server's data directory instead of failing the
 * teardown.
 *
 * In an `up` it is bookkeeping: it records the stores, their targets and `allowDataLoss` (a
 * destroy does not run the program, so this is where it learns them).
 */
import * as pulumi from "@pulumi/pulumi";
import { deepEqual } from "../provider/canonical";
import { approveReplacement, markDomainsGoing, Refusal } from "./data-loss";
import { describeStore, removedStores, storeKey, storeResourceId, type StoreRef } from "./data-loss-plan";
import { liveChecksDisabled } from "./liveness";
import { dynamicProvider, providerExports } from "../provider/provider-loader";
import { askLive, type RemovalGuardInputs } from "./removal-guard";

export type TeardownGateInputs = RemovalGuardInputs;

/** Why the teardown cannot go ahead, one line per store (empty: it may). */
export async function teardownRefusals(props: TeardownGateInputs): Promise<string[]> {
  if (props.allowDataLoss === true || liveChecksDisabled()) return [];
  const live = await askLive((props.stores ?? []).map((store) => ({ store, target: props.targets?.[store.domain] })));
  const lines: string[] = [];
  for (const store of props.stores ?? []) {
    const l = live.get(storeKey(store));
    if (l === "unreachable") {
      lines.push(
        `${describeStore(store)} cannot be asked whether it holds data (its servers do not answer). Nothing was deleted. ` +
          "Fix: start them (npm start) and destroy again; or set cim-nats:allowDataLoss: true, run up, then destroy.",
      );
    } else if (l && l.userMessages > 0) {
      lines.push(
        `${describeStore(store)} holds ${l.userMessages} message${l.userMessages === 1 ? "" : "s"}; destroying the stack would delete them. Nothing was deleted. ` +
          "Fix: back its data up and empty it, then destroy again; or set cim-nats:allowDataLoss: true, run up, then destroy.",
      );
    }
  }
  return lines;
}

export async function checkTeardownGate(_olds: unknown, news: TeardownGateInputs): Promise<pulumi.dynamic.CheckResult> {
  return { inputs: news, failures: [] };
}

export async function diffTeardownGate(_id: string, olds: TeardownGateInputs, news: TeardownGateInputs): Promise<pulumi.dynamic.DiffResult> {
  const stores = removedStores(olds.stores ?? [], news.stores ?? []).length > 0 || removedStores(news.stores ?? [], olds.stores ?? []).length > 0;
  return { changes: stores || (olds.allowDataLoss === true) !== (news.allowDataLoss === true) || !deepEqual(olds.targets, news.targets) };
}

export async function createTeardownGate(inputs: TeardownGateInputs): Promise<{ id: string; outs: TeardownGateInputs }> {
  return { id: "jetstream-teardown-gate", outs: inputs };
}

export async function readTeardownGate(id: string, props?: TeardownGateInputs): Promise<pulumi.dynamic.ReadResult<TeardownGateInputs>> {
  return { id, props };
}

export async function updateTeardownGate(_id: string, _olds: TeardownGateInputs, news: TeardownGateInputs): Promise<{ outs: TeardownGateInputs }> {
  return { outs: news };
}

/** The teardown's first step: refuse it whole, or approve every store's delete and mark every domain as leaving. */
export async function deleteTeardownGate(_id: string, props: TeardownGateInputs): Promise<void> {
  const refusals = await teardownRefusals(props);
  if (refusals.length > 0) throw new Refusal(refusals.join("\n"));
  for (const store of props.stores ?? []) approveReplacement(storeResourceId(store as StoreRef));
  markDomainsGoing(Object.keys(props.targets ?? {}));
}

export const teardownGateProvider = dynamicProvider(__filename, providerExports("TeardownGate"));

export type TeardownGateArgs = {
  readonly stores: pulumi.Input<readonly StoreRef[]>;
  readonly targets: pulumi.Input<Readonly<Record<string, pulumi.Input<unknown>>>>;
  readonly allowDataLoss: pulumi.Input<boolean>;
};

/** Decides a destroy whole, first: give it `dependsOn` every other resource of the stack. */
export class TeardownGate extends pulumi.dynamic.Resource {
  constructor(name: string, args: TeardownGateArgs, opts?: pulumi.CustomResourceOptions) {
    super(teardownGateProvider, name, { ...args, targets: pulumi.secret(args.targets) }, { ...opts, additionalSecretOutputs: ["targets"] }, "jetstream", "TeardownGate");
  }
}
