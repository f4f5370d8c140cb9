/**
 * Reads an nsc store from disk (the program does, at every preview and up): the operator's and
 * accounts' JWTs under `<dir>/stores/<operator>/`, their users' JWTs, and the operator's and
 * accounts' seeds from nsc's keystore (`<keysDir>/keys/<O|A>/<2 chars>/<public key>.nk`). Users'
 * seeds are never read: the stack does not need them to keep their creds working. Nothing is
 * written. Errors are ConfigErrors naming `security.identities.dir` or `keysDir` and the file.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError } from "../config/errors";
import type { ClaimValue, Claims } from "./claims";
import type { NscAccount, NscStore, NscUser, SigningKeyClaim } from "./provided-identities";

type JwtClaims = { readonly iat?: number; readonly iss?: string; readonly sub?: string; readonly name?: string; readonly nats?: Record<string, ClaimValue> };

const expandHome = (p: string) => (p === "~" || p.startsWith("~/") ? path.join(os.homedir(), p.slice(1)) : p);

/** The claims of a JWT file (payload only: nsc wrote it; the servers check signatures). */
function readJwt(file: string, field: string): JwtClaims {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8").trim();
  } catch (e) {
    throw new ConfigError([{ propertyPath: field, reason: `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): is this nsc's data folder? \`nsc env\` shows its "Stores Dir"` }]);
  }
  try {
    return JSON.parse(Buffer.from(text.split(".")[1] ?? "", "base64url").toString("utf8")) as JwtClaims;
  } catch {
    throw new ConfigError([{ propertyPath: field, reason: `${file} is not a JWT (three base64url parts): the store looks damaged; \`nsc describe\` it` }]);
  }
}

/** The seed nsc keeps for a public key, or undefined. */
function readSeed(keysDir: string, publicKey: string): string | undefined {
  const file = path.join(keysDir, "keys", publicKey[0], publicKey.slice(1, 3), `${publicKey}.nk`);
  try {
    const seed = fs.readFileSync(file, "utf8").trim();
    return seed === "" ? undefined : seed;
  } catch {
    return undefined;
  }
}

const numberMap = (v: unknown): Record<string, number> =>
  v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, t]) => typeof t === "number") as [string, number][]) : {};

/** `signing_keys` as the JWT lists them: strings, or scope objects with a `key`. */
function signingKeys(v: unknown): SigningKeyClaim[] {
  if (!Array.isArray(v)) return [];
  return v.filter((k): k is SigningKeyClaim => typeof k === "string" || (typeof k === "object" && k !== null && typeof (k as { key?: unknown }).key === "string"));
}

/** Whether a `default_permissions` claim names any subject (nsc writes `{ pub: {}, sub: {} }` when none). */
function setsPermissions(v: unknown): boolean {
  if (!v || typeof v !== "object") return false;
  return Object.values(v as Record<string, unknown>).some((rule) => rule && typeof rule === "object" && Object.values(rule as Record<string, unknown>).some((list) => Array.isArray(list) && list.length > 0));
}

/**
 * The store of `operator` under `dir` (nsc's data folder holding `stores/`, or the stores folder
 * itself). `keysDir` defaults to `<dir>/keys`.
 */
export function readNscStore(dir: string, operator: string, keysDir?: string): NscStore {
  const root = path.resolve(expandHome(dir));
  const field = "security.identities.dir";
  const storesDir = fs.existsSync(path.join(root, "stores")) ? path.join(root, "stores") : root;
  const keys = path.resolve(expandHome(keysDir ?? path.join(root, "keys")));
  const opDir = path.join(storesDir, operator);
  if (!fs.existsSync(opDir)) {
    const found = fs.existsSync(storesDir) ? fs.readdirSync(storesDir).filter((d) => fs.existsSync(path.join(storesDir, d, `${d}.jwt`))) : [];
    throw new ConfigError([
      {
        propertyPath: found.length > 0 ? "security.operator" : field,
        reason:
          found.length > 0
            ? `the nsc store at ${storesDir} has no operator '${operator}' (it has ${found.join(", ")}): set security.operator to the one to adopt`
            : `no nsc store at ${root}: point it at nsc's data folder (the parent of the "Stores Dir" \`nsc env\` prints, e.g. ~/.local/share/nats/nsc)`,
      },
    ]);
  }
  const op = readJwt(path.join(opDir, `${operator}.jwt`), field);
  const accountsDir = path.join(opDir, "accounts");
  const names = fs.existsSync(accountsDir) ? fs.readdirSync(accountsDir).filter((d) => fs.existsSync(path.join(accountsDir, d, `${d}.jwt`))).sort() : [];
  const accounts: NscAccount[] = names.map((name) => {
    const a = readJwt(path.join(accountsDir, name, `${name}.jwt`), field);
    const usersDir = path.join(accountsDir, name, "users");
    const users: NscUser[] = (fs.existsSync(usersDir) ? fs.readdirSync(usersDir).filter((f) => f.endsWith(".jwt")).sort() : []).map((f) => {
      const u = readJwt(path.join(usersDir, f), field);
      return { name: u.name ?? f.slice(0, -4), publicKey: u.sub ?? "", issuedAt: u.iat ?? 0, claims: (u.nats ?? {}) as Claims };
    });
    const seed = readSeed(keys, a.sub ?? "");
    return {
      name,
      publicKey: a.sub ?? "",
      ...(seed ? { seed } : {}),
      signingKeys: signingKeys(a.nats?.signing_keys),
      revocations: numberMap(a.nats?.revocations),
      ...(setsPermissions(a.nats?.default_permissions) ? { defaultPermissions: a.nats!.default_permissions as Claims } : {}),
      users,
    };
  });
  const opSeed = readSeed(keys, op.sub ?? "");
  const systemAccount = typeof op.nats?.system_account === "string" ? op.nats.system_account : undefined;
  return {
    dir: storesDir,
    keysDir: keys,
    operator: { name: op.name ?? operator, publicKey: op.sub ?? "", ...(systemAccount ? { systemAccount } : {}), ...(opSeed ? { seed: opSeed } : {}) },
    accounts,
  };
}
