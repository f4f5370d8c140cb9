/**
 * The rendered files a host receives, validated, with their staging names and content hashes.
 * Pure. The renderers produce the files; this capability only places them, so it accepts them as
 * data and knows nothing of their contents beyond a hash.
 */
import { createHash } from "node:crypto";
import { ConfigError, type ConfigIssue } from "../config/errors";
import type { RouteTransportRecord } from "./route-roll";

/** One file for a host, as the renderers hand it over. `C` is `string` in the pure core, `pulumi.Input<string>` at the edge. */
export type RenderedFile<C = string> = {
  /** Absolute target path in the container, e.g. /etc/nixos/cim-nats/host.nix. */
  readonly path: string;
  readonly content: C;
  /** Octal mode, e.g. "0644"; secrets "0600". */
  readonly mode: string;
  /** Credentials and seeds: kept out of logs and the Nix store, never group/other-readable. */
  readonly secret: boolean;
};

/** The files of one host. */
export type HostFiles<C = string> = {
  readonly host: string;
  readonly files: readonly RenderedFile<C>[];
  /**
   * A hub host's route transport (route-roll.ts): the switch compares it with the one the host
   * last deployed, to roll a change of it. Not a file of the NixOS config. Unset: no roll check.
   */
  readonly routeTransport?: RouteTransportRecord;
  /** The host's NixOS system profile the switch sets. Default /nix/var/nix/profiles/system. */
  readonly systemProfile?: string;
};

/** A validated file plus the name it is staged under on the target before `install` puts it in place. */
export type StagedFile = {
  readonly path: string;
  readonly mode: string;
  readonly secret: boolean;
  /** File name inside the staging dir, derived from the path (`etc-nixos-cim-nats-host.nix`). */
  readonly stagingName: string;
};

/** The content trigger of a host: changes exactly when a file's path, mode or content does. */
export type ContentTrigger = {
  /** `sha256:<hex>` over every file (sorted by path). */
  readonly contentHash: string;
  /** Path → `sha256:<first 16 hex>` of that file: the preview shows which file changed. */
  readonly fileHashes: Readonly<Record<string, string>>;
};

const MODE = /^0?[0-7]{3}$/;

/** Staging name of a target path: the path's segments joined by '-', other characters kept safe. */
export function stagingName(path: string): string {
  return path
    .replace(/^\/+/, "")
    .split("/")
    .map((segment) => segment.replace(/[^A-Za-z0-9._-]/g, "_"))
    .join("-");
}

/** Normalizes "600" → "0600". */
function normalMode(mode: string): string {
  return mode.length === 3 ? `0${mode}` : mode;
}

/**
 * Validates a host's files (absolute unique paths, octal modes, secrets private and outside the
 * Nix store) and assigns staging names; sorted by path so order in the input never matters.
 * Throws ConfigError listing every problem, with paths `deploy.<host>.files[i]`.
 */
export function stagedFiles(host: string, files: readonly Omit<RenderedFile<unknown>, "content">[]): readonly StagedFile[] {
  const issues: ConfigIssue[] = [];
  const at = (propertyPath: string, reason: string) => issues.push({ propertyPath, reason });
  if (files.length === 0) at(`deploy.${host}.files`, `host '${host}' has no files to deploy: pass the rendered NixOS module, host file and credentials`);

  const byStaging = new Map<string, string>();
  const seen = new Set<string>();
  const out: StagedFile[] = [];
  files.forEach((f, i) => {
    const p = `deploy.${host}.files[${i}]`;
    if (!f.path.startsWith("/") || f.path.endsWith("/") || f.path.split("/").some((s) => s === ".." || s === ".")) {
      at(`${p}.path`, `'${f.path}' is not an absolute file path without '.' or '..' segments`);
    }
    if (seen.has(f.path)) at(`${p}.path`, `'${f.path}' is listed twice for host '${host}': each path once`);
    seen.add(f.path);
    if (!MODE.test(f.mode)) at(`${p}.mode`, `'${f.mode}' is not an octal file mode: write e.g. "0644", or "0600" for secrets`);
    const mode = normalMode(f.mode);
    if (f.secret) {
      if (MODE.test(f.mode) && (parseInt(mode, 8) & 0o077) !== 0) {
        at(`${p}.mode`, `secret file '${f.path}' has mode ${mode}, readable beyond its owner: use "0600"`);
      }
      if (f.path.startsWith("/nix/store/")) at(`${p}.path`, `secret file '${f.path}' would land in the world-readable Nix store: put it under /var/lib/cim-nats/secrets/`);
    }
    const name = stagingName(f.path);
    const other = byStaging.get(name);
    if (other !== undefined && other !== f.path) at(`${p}.path`, `'${f.path}' and '${other}' map to the same staging name '${name}': rename one`);
    byStaging.set(name, f.path);
    out.push({ path: f.path, mode, secret: f.secret, stagingName: name });
  });
  if (issues.length > 0) throw new ConfigError(issues);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Hash of one file: path, mode and content, length-prefixed so no two different files collide. */
function fileDigest(f: RenderedFile): string {
  const h = createHash("sha256");
  for (const part of [f.path, normalMode(f.mode), f.secret ? "secret" : "public", f.content]) {
    h.update(`${Buffer.byteLength(part)}:`);
    h.update(part);
  }
  return h.digest("hex");
}

/**
 * The content trigger of a host's files. A SHA-256 of a file holding a high-entropy seed reveals
 * nothing about it, so the trigger is public even when some files are secret: that is what keeps
 * `pulumi preview` readable.
 */
export function contentTrigger(files: readonly RenderedFile[]): ContentTrigger {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const digests = sorted.map(fileDigest);
  const all = createHash("sha256");
  digests.forEach((d) => all.update(d));
  const fileHashes: Record<string, string> = {};
  sorted.forEach((f, i) => (fileHashes[f.path] = `sha256:${digests[i].slice(0, 16)}`));
  return { contentHash: `sha256:${all.digest("hex")}`, fileHashes };
}
