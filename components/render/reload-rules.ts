/**
 * Reload or restart: which changes to a rendered nats-server config the running server applies on
 * SIGHUP, and which need a restart. Read from nats-server 2.15.2's server/reload.go (diffOptions,
 * getLeafNodeOptionsChanges, validateClusterOpts) and checked against a running server by
 * test/render/reload-rules.test.ts. Pure: config trees in, a verdict out; no Pulumi, no transport.
 *
 * Used by the dev substrate (components/local: SIGHUP or rolling restart) and by the prod NixOS
 * unit (a hash of `restartOnlyView` as `restartTriggers`, the whole config as `reloadTriggers`).
 */
import type { NatsConfTree, NatsConfValue } from "./nats-conf";
import { denyImportsInIdentity } from "./remote-identity";

/** What a config change needs from the running server. */
export type ConfigChangeKind = "none" | "reload" | "restart";

/** How nats-server 2.15.2 takes a change of one setting. */
export type ReloadRule = {
  /** `reload`: applied on SIGHUP; `restart`: SIGHUP is refused ("config reload not supported"). */
  readonly change: "reload" | "restart";
  /** One line: why, in reload.go's terms. */
  readonly why: string;
};

/**
 * Every setting the renderers write, by its path in the tree (`[]` = each list element).
 * Keys not listed here are classified `restart` (the safe answer for an unknown setting).
 */
export const RELOAD_RULES = {
  server_name: { change: "restart", why: "Options.ServerName has no reload case in diffOptions: 'config reload not supported for ServerName'" },
  listen: { change: "restart", why: "Options.Host/Port: 'port' falls through to the unsupported branch, Host has no case" },
  http: { change: "restart", why: "Options.HTTPHost/HTTPPort have no reload case; the monitoring listener is opened once at start" },
  "jetstream.store_dir": { change: "restart", why: "'config reload not supported for jetstream storage directory' while JetStream runs" },
  "jetstream.domain": { change: "restart", why: "Options.JetStreamDomain has no reload case; the domain is fixed when JetStream starts" },
  "jetstream.max_mem": {
    change: "reload",
    why: "an increase is applied (jetStreamLimitsOption); a decrease, or set<->unset, is refused ('decreasing jetstream max memory and store') -> restart",
  },
  "jetstream.max_file": {
    change: "reload",
    why: "an increase is applied (jetStreamLimitsOption); a decrease, or set<->unset, is refused ('decreasing jetstream max memory and store') -> restart",
  },
  "jetstream.sync_interval": {
    change: "restart",
    why: "Options.SyncInterval/SyncAlways have no reload case in diffOptions: 'config reload not supported for SyncInterval'; the store's flush timer is set when JetStream starts",
  },
  "cluster.name": { change: "reload", why: "clusterOption: validateClusterOpts checks only host and port; Apply sets the new cluster name" },
  "cluster.listen": { change: "restart", why: "validateClusterOpts: 'config reload not supported for cluster host/port'" },
  "cluster.routes": { change: "reload", why: "routesOption: diffRoutes connects added routes and closes removed ones" },
  "leafnodes.listen": { change: "restart", why: "getLeafNodeOptionsChanges: the leafnodes{} block may change only Remotes, TLS, Compression and Users" },
  "leafnodes.remotes[].urls": {
    change: "reload",
    why: "a remote is identified by urls+account+credentials (RemoteLeafOpts.name()): a new list is remove + add, which reload supports",
  },
  "leafnodes.remotes[].account": { change: "reload", why: "part of the remote's identity: a change is remove + add of a remote" },
  "leafnodes.remotes[].credentials": { change: "reload", why: "part of the remote's identity (the file path, not its content): remove + add of a remote" },
  "leafnodes.remotes[].deny_imports": {
    change: "restart",
    why: "on a remote whose identity is unchanged, checkConfigsEqual refuses any field but TLS/Compression/Disabled/Proxy (it is reload when urls/account/credentials change with it: the stack tags each URL with the deny set's digest, render/remote-identity.ts, so its own changes always do)",
  },
  "leafnodes.remotes[+/-]": { change: "reload", why: "leafNodeOption: added remotes are connected, removed remotes are disconnected" },
  operator: { change: "restart", why: "Options.TrustedOperators has no reload case: the trust chain is fixed at start" },
  system_account: { change: "restart", why: "'config reload not supported for SystemAccount' (only the default -> unset case is allowed)" },
  resolver: {
    change: "restart",
    why: "a resolver starts (subscribes to JWT updates, syncs) only at server start (server.go: ar.Start); reload refuses moving to or from one",
  },
  resolver_preload: {
    change: "reload",
    why: "the full resolver stores a preload only when it is newer than the JWT it holds (saveIfNewer): the stack's bootstrap JWTs (iat 1) never replace a pushed one",
  },
  accounts: { change: "reload", why: "accountsOption: accounts are reconfigured and clients re-checked on reload" },
  authorization: { change: "reload", why: "authorizationOption: users and permissions are reloaded, clients re-checked" },
  "tls.*": {
    change: "reload",
    why: "tlsOption: the client listener's TLS config (certificate, key, CA, read from the files again) is replaced on reload; new connections use it",
  },
  "tls+/-": { change: "restart", why: "TLS turned on or off: clients connected in plain text would stay so; restart (safe)" },
  "cluster.tls.*": {
    change: "reload",
    why: "clusterOption: validateClusterOpts checks only host and port, so the routes' TLS config (files re-read) is replaced on reload",
  },
  "cluster.tls+/-": { change: "restart", why: "route TLS turned on or off: established routes would keep their old transport; restart (safe)" },
  "cluster.include": {
    change: "reload",
    why: "the included file holds cluster authorization and routes: authorization is re-checked (clusterOption) and routes diffed (routesOption) on reload",
  },
  "leafnodes.tls.*": { change: "reload", why: "getLeafNodeOptionsChanges: the leafnodes{} block may change TLS on reload" },
  "leafnodes.tls+/-": { change: "restart", why: "leafnode listener TLS turned on or off: established links would keep their old transport; restart (safe)" },
  "leafnodes.remotes[].tls": { change: "reload", why: "checkConfigsEqual lets a remote's TLS change on reload (it is not part of the remote's identity)" },
  lame_duck_duration: { change: "restart", why: "Options.LameDuckDuration has no reload case in diffOptions" },
  lame_duck_grace_period: { change: "restart", why: "Options.LameDuckGracePeriod has no reload case in diffOptions" },
} as const satisfies Readonly<Record<string, ReloadRule>>;

/** The verdict on one config change, with the reasons behind it. */
export type ConfigChange = {
  readonly kind: ConfigChangeKind;
  /** Every change that needs a restart, one line each (empty unless kind is "restart"). */
  readonly restartBecause: readonly string[];
  /** Every change SIGHUP applies, one line each. */
  readonly reloadBecause: readonly string[];
};

function isTree(value: NatsConfValue | undefined): value is NatsConfTree {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function sameValue(a: NatsConfValue | undefined, b: NatsConfValue | undefined): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** Key-sorted copy, so two trees that differ only in key order compare equal. */
function canonical(value: NatsConfValue | undefined): unknown {
  if (Array.isArray(value)) return value.map((v) => canonical(v));
  if (isTree(value)) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical(value[k])]),
    );
  }
  return value;
}

function show(value: NatsConfValue | undefined): string {
  if (value === undefined) return "(unset)";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Keys whose values are long or public-key material: name the change, do not print the values. */
const QUIET_KEYS: readonly string[] = ["operator", "resolver_preload", "accounts", "authorization"];

function ruleOf(path: string): ReloadRule | undefined {
  return (RELOAD_RULES as Readonly<Record<string, ReloadRule>>)[path];
}

/** nats-server's size grammar (getStorageSize): a number with an optional K/M/G/T suffix (B, iB allowed), powers of 1024. */
export function parseNatsSize(value: NatsConfValue | undefined): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value !== "string") return undefined;
  const m = /^\s*(\d+)\s*([KMGT]?)(?:I?B)?\s*$/i.exec(value);
  if (!m) return undefined;
  const power = ["", "K", "M", "G", "T"].indexOf(m[2].toUpperCase());
  return Number(m[1]) * 1024 ** power;
}

type Collector = { restart: string[]; reload: string[] };

function byRule(path: string, oldV: NatsConfValue | undefined, newV: NatsConfValue | undefined, out: Collector): void {
  if (sameValue(oldV, newV)) return;
  const rule = ruleOf(path);
  const top = path.split(/[.[]/)[0];
  const what = QUIET_KEYS.includes(top) ? `${path} changed` : `${path} ${show(oldV)} -> ${show(newV)}`;
  if (!rule) out.restart.push(`${what}: not in the reload table, so restart (safe)`);
  else (rule.change === "reload" ? out.reload : out.restart).push(`${what}: ${rule.why}`);
}

/** A JetStream limit: an increase between two set values reloads; anything else restarts. */
function jetStreamLimit(key: "max_mem" | "max_file", oldV: NatsConfValue | undefined, newV: NatsConfValue | undefined, out: Collector): void {
  if (sameValue(oldV, newV)) return;
  const path = `jetstream.${key}`;
  const [o, n] = [parseNatsSize(oldV), parseNatsSize(newV)];
  const what = `${path} ${show(oldV)} -> ${show(newV)}`;
  if (o === undefined || n === undefined) out.restart.push(`${what}: only an increase between two set limits reloads`);
  else if (n > o) out.reload.push(`${what}: an increase is applied on reload`);
  else if (n < o) out.restart.push(`${what}: nats-server refuses 'decreasing jetstream max memory and store' on reload`);
}

function keysOf(...trees: (NatsConfTree | undefined)[]): string[] {
  return [...new Set(trees.flatMap((t) => (t ? Object.keys(t) : [])))];
}

/** A block whose presence changed, or that is not a block: restart, since its listener/role changes. */
function blockChanged(path: string, oldV: NatsConfValue | undefined, newV: NatsConfValue | undefined, out: Collector): boolean {
  if (isTree(oldV) && isTree(newV)) return false;
  if (!sameValue(oldV, newV)) out.restart.push(`${path} block ${oldV === undefined ? "added" : newV === undefined ? "removed" : "changed shape"}: restart`);
  return true;
}

/** A `tls` block: a change inside it reloads (nats-server re-reads the files on SIGHUP); turning it on or off restarts. */
function tlsBlock(path: "tls" | "cluster.tls" | "leafnodes.tls", oldV: NatsConfValue | undefined, newV: NatsConfValue | undefined, out: Collector): void {
  if (sameValue(oldV, newV)) return;
  if (isTree(oldV) && isTree(newV)) {
    const why = RELOAD_RULES[`${path}.*`].why;
    for (const key of keysOf(oldV, newV)) {
      if (!sameValue(oldV[key], newV[key])) out.reload.push(`${path}.${key} ${show(oldV[key])} -> ${show(newV[key])}: ${why}`);
    }
    return;
  }
  out.restart.push(`${path} ${oldV === undefined ? "added" : newV === undefined ? "removed" : "changed shape"}: ${RELOAD_RULES[`${path}+/-`].why}`);
}

function jetstreamBlock(oldV: NatsConfValue | undefined, newV: NatsConfValue | undefined, out: Collector): void {
  if (blockChanged("jetstream", oldV, newV, out)) return;
  const [o, n] = [oldV as NatsConfTree, newV as NatsConfTree];
  for (const key of keysOf(o, n)) {
    if (key === "max_mem" || key === "max_file") jetStreamLimit(key, o[key], n[key], out);
    else byRule(`jetstream.${key}`, o[key], n[key], out);
  }
}

function clusterBlock(oldV: NatsConfValue | undefined, newV: NatsConfValue | undefined, out: Collector): void {
  if (blockChanged("cluster", oldV, newV, out)) return;
  const [o, n] = [oldV as NatsConfTree, newV as NatsConfTree];
  for (const key of keysOf(o, n)) {
    if (key === "tls") tlsBlock("cluster.tls", o[key], n[key], out);
    else byRule(`cluster.${key}`, o[key], n[key], out);
  }
}

/** A leafnode remote's identity as nats-server keys it: urls (in order), local account, credentials. */
function remoteIdentity(remote: NatsConfValue): string {
  if (!isTree(remote)) return JSON.stringify(remote);
  return JSON.stringify([canonical(remote.urls ?? remote.url), remote.account ?? "$G", remote.credentials ?? ""]);
}

const REMOTE_IDENTITY_KEYS: readonly string[] = ["urls", "url", "account", "credentials"];

function leafnodesBlock(oldV: NatsConfValue | undefined, newV: NatsConfValue | undefined, out: Collector): void {
  if (blockChanged("leafnodes", oldV, newV, out)) return;
  const [o, n] = [oldV as NatsConfTree, newV as NatsConfTree];
  for (const key of keysOf(o, n)) {
    if (key === "tls") {
      tlsBlock("leafnodes.tls", o[key], n[key], out);
      continue;
    }
    if (key !== "remotes") {
      byRule(`leafnodes.${key}`, o[key], n[key], out);
      continue;
    }
    if (sameValue(o.remotes, n.remotes)) continue;
    const olds = Array.isArray(o.remotes) ? (o.remotes as NatsConfValue[]) : [];
    const news = Array.isArray(n.remotes) ? (n.remotes as NatsConfValue[]) : [];
    const oldById = new Map(olds.map((r) => [remoteIdentity(r), r]));
    const newIds = new Set(news.map(remoteIdentity));
    for (const r of news) {
      const before = oldById.get(remoteIdentity(r));
      if (before === undefined) continue;
      // Same identity: every other field must be equal, or nats-server refuses the reload.
      const [b, a] = [before as NatsConfTree, r as NatsConfTree];
      for (const field of keysOf(b, a).filter((f) => !REMOTE_IDENTITY_KEYS.includes(f))) {
        byRule(`leafnodes.remotes[].${field}`, b[field], a[field], out);
      }
    }
    const added = news.filter((r) => !oldById.has(remoteIdentity(r))).length;
    const removed = olds.filter((r) => !newIds.has(remoteIdentity(r))).length;
    if (added + removed > 0) {
      out.reload.push(
        `leafnodes.remotes: ${removed} removed, ${added} added (a remote is keyed by urls+account+credentials): ${RELOAD_RULES["leafnodes.remotes[+/-]"].why}`,
      );
    }
  }
}

/**
 * Whether `newTree` can replace `oldTree` in a running nats-server by SIGHUP (`reload`), needs a
 * restart, or changes nothing. Lists every reason, so a plan can say why a server restarts.
 */
export function classifyConfigChange(oldTree: NatsConfTree, newTree: NatsConfTree): ConfigChange {
  const out: Collector = { restart: [], reload: [] };
  for (const key of keysOf(oldTree, newTree)) {
    const [o, n] = [oldTree[key], newTree[key]];
    switch (key) {
      case "jetstream":
        jetstreamBlock(o, n, out);
        break;
      case "cluster":
        clusterBlock(o, n, out);
        break;
      case "leafnodes":
        leafnodesBlock(o, n, out);
        break;
      case "tls":
        tlsBlock("tls", o, n, out);
        break;
      default:
        byRule(key, o, n, out);
    }
  }
  const kind: ConfigChangeKind = out.restart.length > 0 ? "restart" : out.reload.length > 0 ? "reload" : "none";
  return { kind, restartBecause: out.restart, reloadBecause: out.reload };
}

/**
 * The part of a rendered tree whose change needs a restart, for a hash that restarts the server
 * (NixOS `restartTriggers`) while a hash of the whole config reloads it (`reloadTriggers`).
 *
 * Conservative where the rule depends on the old value, which a hash cannot see: the JetStream
 * limits are included (a decrease needs a restart, so an increase restarts too), and each remote's
 * non-identity fields (deny_imports) are included as a sorted list (so a remote added with
 * deny_imports restarts too). Guarantee: whenever `classifyConfigChange(a, b).kind` is "restart",
 * `restartOnlyView(a)` and `restartOnlyView(b)` differ.
 */
export function restartOnlyView(tree: NatsConfTree): NatsConfTree {
  const view: Record<string, NatsConfValue> = {};
  for (const [key, value] of Object.entries(tree)) {
    switch (key) {
      case "cluster":
        // Presence of the block matters (a block added or removed restarts); name, routes, the
        // include (authorization + routes) and the TLS files reload, TLS on/off restarts.
        view.cluster = isTree(value) ? tlsPresence(dropKeys(value, ["name", "routes", "include"])) : value;
        break;
      case "leafnodes":
        view.leafnodes = isTree(value) ? tlsPresence(leafnodesRestartView(value)) : value;
        break;
      case "tls":
        view.tls = TLS_ON;
        break;
      case "jetstream":
        view.jetstream = value;
        break;
      default: {
        const rule = ruleOf(key);
        if (!rule || rule.change === "restart") view[key] = value;
      }
    }
  }
  return view;
}

/** What a restart view keeps of a `tls` block: that it is there (its files reload). */
const TLS_ON = "on (files reload)";

function tlsPresence(tree: NatsConfTree): NatsConfTree {
  return tree.tls === undefined ? tree : { ...tree, tls: TLS_ON };
}

function dropKeys(tree: NatsConfTree, keys: readonly string[]): NatsConfTree {
  return Object.fromEntries(Object.entries(tree).filter(([k]) => !keys.includes(k)));
}

function leafnodesRestartView(tree: NatsConfTree): NatsConfTree {
  const view: Record<string, NatsConfValue> = { ...dropKeys(tree, ["remotes"]) };
  if (Array.isArray(tree.remotes)) {
    // deny_imports whose digest tags every URL are part of the identity: their change is remove + add, a reload.
    // A hand-edited set that no longer matches its digest restarts, so the marker says which case it is.
    const restartFields = (r: NatsConfTree) =>
      denyImportsInIdentity(r.urls, r.deny_imports) ? dropKeys(r, [...REMOTE_IDENTITY_KEYS, "tls", "deny_imports"]) : { ...dropKeys(r, [...REMOTE_IDENTITY_KEYS, "tls"]), deny_imports_in_identity: false };
    view.remotes_restart_fields = (tree.remotes as NatsConfValue[])
      .map((r) => (isTree(r) ? JSON.stringify(canonical(restartFields(r))) : JSON.stringify(r)))
      .sort();
  } else if (tree.remotes !== undefined) {
    view.remotes = tree.remotes;
  }
  return view;
}
