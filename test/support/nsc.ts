/**
 * The pinned nsc (scripts/setup.sh builds it into .tools/bin) on a store of the test's own: its
 * data dir (`stores/`, `keys/`) and config dir under `dir`, never the user's (~/.local/share/nats).
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { PROJECT_ROOT } from "./stack-config";

const run = promisify(execFile);
export const NSC = path.join(PROJECT_ROOT, ".tools", "bin", "nsc");

export type NscHome = {
  /** nsc's data folder: what `security.identities.dir` names. */
  readonly dataDir: string;
  /** Its keystore (`<dataDir>/keys`). */
  readonly keysDir: string;
  /** Runs nsc with these folders; resolves to stdout + stderr (nsc reports on stderr). */
  nsc(...args: string[]): Promise<string>;
  /** The creds file nsc wrote for a user of an account of operator COWBOY_AI. */
  creds(account: string, user: string): string;
};

export function nscHome(dir: string, operator = "COWBOY_AI"): NscHome {
  const dataDir = path.join(dir, "nsc");
  const keysDir = path.join(dataDir, "keys");
  const configDir = path.join(dir, "nsc-config");
  return {
    dataDir,
    keysDir,
    nsc: async (...args) => {
      const { stdout, stderr } = await run(NSC, [...args, "--config-dir", configDir, "--data-dir", path.join(dataDir, "stores"), "--keystore-dir", keysDir], {
        env: { ...process.env, HOME: dir, NKEYS_PATH: keysDir, NSC_HOME: configDir },
      });
      return `${stdout}${stderr}`;
    },
    creds: (account, user) => fs.readFileSync(path.join(keysDir, "creds", operator, account, `${user}.creds`), "utf8"),
  };
}
