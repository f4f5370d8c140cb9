/**
 * `cim-nats:proxmox.nixos` → the containers' NixOS system spec: the nixpkgs pin (url + sha256
 * of the unpacked tree) and `nix.gc`. Pure; problems go to `at` with their field path.
 */
import { fieldsOf, nixGcSchema, nixosSchema, nixpkgsPinSchema } from "../config/schema";
import { type At, isObject, optString, requiredString, unknownKeys } from "../config/fields";
import { DEFAULT_NIX_GC, DEFAULT_NIXPKGS_PIN, NIX_GC_AGE_PATTERN, NIX_SHA256_PATTERN, type NixosSystemSpec } from "../deploy/nixos-system";

export function parseNixos(v: unknown, path: string, at: At): NixosSystemSpec {
  if (v === undefined || v === null) return { nixpkgs: DEFAULT_NIXPKGS_PIN, gc: DEFAULT_NIX_GC };
  if (!isObject(v)) {
    at(path, `must be an object { nixpkgs: { url, sha256 }, gc: { dates, deleteOlderThan } }, got ${JSON.stringify(v)}`);
    return { nixpkgs: DEFAULT_NIXPKGS_PIN, gc: DEFAULT_NIX_GC };
  }
  unknownKeys(v, fieldsOf(nixosSchema), path, at);
  return { nixpkgs: parsePin(v.nixpkgs, `${path}.nixpkgs`, at), gc: parseGc(v.gc, `${path}.gc`, at) };
}

function parsePin(v: unknown, path: string, at: At) {
  if (v === undefined || v === null) return DEFAULT_NIXPKGS_PIN;
  if (!isObject(v)) {
    at(path, `must be { url, sha256 }, got ${JSON.stringify(v)}`);
    return DEFAULT_NIXPKGS_PIN;
  }
  unknownKeys(v, fieldsOf(nixpkgsPinSchema), path, at);
  const url = requiredString(v.url, `${path}.url`, "a nixpkgs tarball URL, e.g. https://github.com/NixOS/nixpkgs/archive/<rev>.tar.gz", at);
  if (url !== "" && !/^https?:\/\/\S+$/.test(url)) at(`${path}.url`, `'${url}' is not an http(s) URL of a nixpkgs tarball`);
  const sha256 = requiredString(v.sha256, `${path}.sha256`, "the sha256 of the unpacked tree (`nix-prefetch-url --unpack <url>`, or the narHash of a flake.lock)", at);
  if (sha256 !== "" && !NIX_SHA256_PATTERN.test(sha256)) {
    at(`${path}.sha256`, `'${sha256}' is neither a Nix base32 sha256 (52 characters) nor an SRI hash (sha256-<44 base64>); take the output of \`nix-prefetch-url --unpack ${url || "<url>"}\``);
  }
  return { url, sha256 };
}

function parseGc(v: unknown, path: string, at: At) {
  if (v === undefined || v === null) return DEFAULT_NIX_GC;
  if (!isObject(v)) {
    at(path, `must be { dates, deleteOlderThan }, got ${JSON.stringify(v)}`);
    return DEFAULT_NIX_GC;
  }
  unknownKeys(v, fieldsOf(nixGcSchema), path, at);
  const dates = optString(v.dates, `${path}.dates`, DEFAULT_NIX_GC.dates, at);
  const deleteOlderThan = optString(v.deleteOlderThan, `${path}.deleteOlderThan`, DEFAULT_NIX_GC.deleteOlderThan, at);
  if (!NIX_GC_AGE_PATTERN.test(deleteOlderThan)) {
    at(`${path}.deleteOlderThan`, `'${deleteOlderThan}' is not a number of days like '30d' (nix-collect-garbage --delete-older-than)`);
  }
  return { dates, deleteOlderThan };
}
