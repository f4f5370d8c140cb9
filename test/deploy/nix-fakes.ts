/**
 * Stand-ins for the Nix and systemd commands the deploy's scripts run on a NixOS host, for tests
 * on this Debian machine (no Nix daemon, no systemd): they keep the contracts the scripts rely on.
 * - `nix-env -p <profile> --set <path>`: a new generation link `<profile>-<n>-link` → path, and
 *   the profile → that link, as Nix makes them; each call logged.
 * - `systemctl is-active [--quiet] <unit>`: active while the pid in `<units>/<unit>.pid` lives.
 * - a "system": a directory with `bin/switch-to-configuration`, the script a test gives it.
 * Where one sshd stands in for several hosts (ssh-fixture.ts), `<root>` is `$HOST_ROOT` (set per
 * host by the fixture's `hostRootScript`), so each host has its own profile and units.
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Writes `nix-env` and `systemctl` into `bin` (created). `unitsDir`: where units' pid files live;
 * `preamble`: shell run first (the SSH fixture sets HOST_ROOT there, which unitsDir may use).
 */
export function writeNixFakes(bin: string, unitsDir: string, log: string, preamble = ""): void {
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(bin, "nix-env"),
    `#!/usr/bin/env bash
# nix-env -p PROFILE --set PATH (the deploy's only use)
set -eu
${preamble}
[[ $1 == -p && $3 == --set ]] || { echo "nix-env stand-in: unexpected arguments: $*" >&2; exit 2; }
profile=$2 path=$4
[[ -e $path ]] || { echo "error: path '$path' is not valid" >&2; exit 1; }
mkdir -p "$(dirname "$profile")"
n=0
for link in "$profile"-*-link; do [[ -e $link || -L $link ]] || continue; g=\${link#"$profile"-}; g=\${g%-link}; (( g > n )) && n=$g; done
n=$((n + 1))
ln -sfn "$path" "$profile-$n-link"
ln -sfn "$(basename "$profile")-$n-link" "$profile"
echo "$(date +%s%3N) set \${HOST_ADDR:-local} $profile $n $path" >> ${log}
`,
  );
  writeFileSync(
    join(bin, "systemctl"),
    `#!/usr/bin/env bash
# systemctl is-active [--quiet] UNIT: active while its recorded pid lives
${preamble}
quiet=0
[[ $1 == is-active ]] || { echo "systemctl stand-in: only is-active" >&2; exit 2; }
shift
if [[ $1 == --quiet ]]; then quiet=1; shift; fi
pidfile="${unitsDir}/$1.pid"
if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then state=active; rc=0; else state=inactive; rc=3; fi
(( quiet )) || echo "$state"
exit $rc
`,
  );
  for (const f of ["nix-env", "systemctl"]) chmodSync(join(bin, f), 0o755);
}

/** A system directory whose `bin/switch-to-configuration` runs `script` (bash). Returns its path. */
export function writeFakeSystem(dir: string, script: string): string {
  mkdirSync(join(dir, "bin"), { recursive: true });
  writeFileSync(join(dir, "bin", "switch-to-configuration"), `#!/usr/bin/env bash\nset -eu\n${script}\n`, { mode: 0o755 });
  return dir;
}
