/**
 * One resource definition for everything kept in a single stream — streams, KV buckets and
 * object buckets — parameterized by its StoreKind (store-kind.ts): check, diff, create, read,
 * update and delete over the shared stream requests (stream-requests.ts).
 *
 * Diff rules: every setting the server changes in place is an update; only the kind's
 * replace-only keys (and a new target domain) replace, behind the data-loss guard; one-way
 * settings turned back off fail at preview. A store whose settings match but that is gone from
 * a server that answers (its store was wiped) is an update, which creates it again.
 */
import type * as pulumi from "@pulumi/pulumi";
import { changedKeys, containsUnknown, deepEqual, knownInputs, resourceConfig } from "../provider/canonical";
import { UnreachableError } from "./connection-pool";
import { domainGoing } from "./data-loss";
import { needsEnsure } from "./liveness";
import { formatId, parseIdForRead } from "./resource-id";
import { STORE_RESOURCE_KEYS, type StoreKind } from "./store-kind";
import { adoptStream, createStreamFromConfig, deleteStreamGuarded, guardReplacement, streamInfo, updateStreamFromConfig } from "./stream-requests";
import { normalizeStreamConfig } from "./stream-config";
import { describeAt, targetChange, targetFailures } from "./target";
import type { ConnectionTarget } from "./types";

/** Inputs of a store resource: its config (wire names) plus where and how. */
export type StoreArgs<Input> = Input & {
  readonly target: ConnectionTarget;
  /** Allow delete/replace while it holds messages. Default false. */
  readonly allowDataLoss?: boolean;
  /**
   * Take over an existing one of this name on create (updated in place to these settings,
   * never replaced) instead of failing. This is how to import: Pulumi's `import` option cannot
   * load a dynamic provider (pulumi/pulumi#3550). Default false.
   */
  readonly adopt?: boolean;
};

/** Outputs: the full canonical config as the server reports it, plus the inputs' target. */
export type StoreOutputs<Config> = Config & { readonly target: ConnectionTarget; readonly allowDataLoss: boolean };

/** The provider functions of one store kind. */
export type StoreResource<Config, Input> = {
  readonly check: (olds: unknown, news: StoreArgs<Input>) => Promise<pulumi.dynamic.CheckResult>;
  readonly diff: (id: string, olds: StoreOutputs<Config>, news: StoreArgs<Input>) => Promise<pulumi.dynamic.DiffResult>;
  readonly create: (args: StoreArgs<Input>) => Promise<{ id: string; outs: StoreOutputs<Config> }>;
  readonly read: (id: string, props?: Partial<StoreOutputs<Config>> | StoreArgs<Input>) => Promise<pulumi.dynamic.ReadResult<StoreOutputs<Config>>>;
  readonly update: (id: string, olds: StoreOutputs<Config>, news: StoreArgs<Input>) => Promise<{ outs: StoreOutputs<Config> }>;
  readonly delete: (id: string, props: StoreOutputs<Config>) => Promise<void>;
};

export function storeResource<Config, Input>(kind: StoreKind<Config, Input>): StoreResource<Config, Input> {
  const configOf = (a: object) => resourceConfig<Input>(a, STORE_RESOURCE_KEYS);
  const nameOf = (a: object) => (a as Record<string, string>)[kind.nameKey];
  const describe = (target: ConnectionTarget, name: string) => describeAt(kind.noun, target, name);
  const outputs = (cfg: Config, a: { target: ConnectionTarget; allowDataLoss?: boolean }): StoreOutputs<Config> => ({ ...cfg, target: a.target, allowDataLoss: a.allowDataLoss === true });

  return {
    /** Pulumi `check`: input problems, each with its property path. */
    async check(_olds, news) {
      const input = news as unknown as Record<string, unknown>;
      return { inputs: news, failures: [...targetFailures(input.target), ...kind.inputFailures(knownInputs(input), STORE_RESOURCE_KEYS)] };
    },

    /** Pulumi `diff`: in-place update whenever the server allows, replace only where it refuses. */
    async diff(id, olds, news) {
      const what = describe(olds.target, nameOf(olds));
      if (containsUnknown(configOf(news))) {
        const replaces = kind.replaceOnly.filter((k) => containsUnknown((news as Record<string, unknown>)[k]));
        return { changes: true, replaces, deleteBeforeReplace: true };
      }
      const current = kind.normalize(configOf(olds));
      const desired = kind.normalize(configOf(news));
      const violations = kind.oneWayViolations(current, desired, what);
      if (violations.length) throw new Error(violations.join("\n"));
      const changed = changedKeys(current as object, desired as object) as string[];
      const reasons = kind.replaceReasons(current, desired);
      const replaces: string[] = Object.keys(reasons);
      const t = targetChange(olds.target, news.target);
      if (t === "replace") replaces.push("target");
      if (t !== "none") changed.push("target");
      // allowDataLoss alone changes nothing on a server: no update (its delete asks this run's
      // approvals, recorded by the removal guard's check or the teardown gate, data-loss.ts).
      if (replaces.length) {
        const domainChange = t === "replace" ? [`target.domain changed (${olds.target.domain ?? ""} → ${news.target.domain ?? ""})`] : [];
        const because = [...Object.values(reasons), ...domainChange].join("; ");
        await guardReplacement(id, olds.target, kind.streamName(nameOf(olds)), news.allowDataLoss, because, what);
      }
      if (changed.length === 0 && (await needsEnsure(news.target, () => streamInfo(news.target, kind.streamName(nameOf(news)))))) changed.push("(gone from the server)");
      return { changes: changed.length > 0, replaces, deleteBeforeReplace: true };
    },

    /** Pulumi `create`: ends by reading back; with `adopt` an existing one is updated in place. */
    async create(args) {
      const desired = kind.toStream(kind.normalize(configOf(args)));
      const what = describe(args.target, nameOf(args));
      const cfg = (args.adopt ? await adoptStream(args.target, desired, what) : undefined) ?? (await createStreamFromConfig(args.target, desired));
      const created = kind.fromStream(cfg);
      return { id: formatId(kind.idKind, args.target.domain, nameOf(created as object)), outs: outputs(created, args) };
    },

    /**
     * Pulumi `read` (refresh and import): the live config, or `{}` (no id) when it is gone.
     * For import, `props` are the program's inputs and must carry `target`.
     */
    async read(id, props) {
      const { names, target } = parseIdForRead(kind.idKind, id, props?.target);
      const info = await streamInfo(target, kind.streamName(names[0]));
      if (!info) return {};
      return { id, props: outputs(kind.fromStream(normalizeStreamConfig(info.config)), { target, allowDataLoss: props?.allowDataLoss }) };
    },

    /** Pulumi `update`: in place; a target or allowDataLoss change alone skips the write unless the store is gone. */
    async update(_id, olds, news) {
      const current = kind.normalize(configOf(olds));
      const desired = kind.normalize(configOf(news));
      if (deepEqual(current, desired) && (await streamInfo(news.target, kind.streamName(nameOf(desired as object))))) return { outs: outputs(current, news) };
      const cfg = await updateStreamFromConfig(news.target, kind.toStream(desired));
      return { outs: outputs(kind.fromStream(cfg), news) };
    },

    /** Pulumi `delete`: behind the data-loss guard; not found is success, and so is a store leaving with its host. */
    async delete(id, props) {
      try {
        await deleteStreamGuarded(props.target, kind.streamName(nameOf(props)), id, props.allowDataLoss, describe(props.target, nameOf(props)));
      } catch (e) {
        // Its servers are down and removed in this run: the store goes with their data directory.
        if (e instanceof UnreachableError && domainGoing(props.target.domain)) return;
        throw e;
      }
    },
  };
}
