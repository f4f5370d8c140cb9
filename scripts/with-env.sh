#!/usr/bin/env bash
# Runs a command with the project's pinned toolchain first on PATH (.tools/), the local Pulumi
# backend and the dev stack's passphrase. Everything the project starts goes through here, so
# the machine's own Node/Pulumi/nats-server never leak in.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CIM_NATS_ROOT="$ROOT"
export PATH="$ROOT/.tools/bin:$ROOT/.tools/node/bin:$ROOT/node_modules/.bin:$PATH"
export PULUMI_HOME="${PULUMI_HOME:-$ROOT/.tools/pulumi-home}"
export PULUMI_SKIP_UPDATE_CHECK=true
# `npm run typecheck` (tsc --noEmit) type-checks; the program itself only needs transpiling (~2 s per run).
export PULUMI_NODEJS_TRANSPILE_ONLY="${PULUMI_NODEJS_TRANSPILE_ONLY:-true}"
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# Node's on-disk V8 code cache: every Pulumi run loads TypeScript (ts-node, closure serialization)
# and the SDK again; compiled once, they load for less CPU (bench/cli-run.ts). A module whose
# source changed is compiled afresh; `rm -rf .cache/node-compile-cache` clears it.
export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE-$ROOT/.cache/node-compile-cache}"
# Plugins (the upstream nodejs language host, pulumi-resource-pulumi-nodejs for dynamic providers,
# pulumi-resource-command and -proxmoxve) are in .tools/bin — built by setup, or symlinks to an
# installed Pulumi's or plugin's — and found on PATH as "ambient" plugins: that must not be switched off.
unset PULUMI_IGNORE_AMBIENT_PLUGINS
if [ ! -x "$ROOT/.tools/node/bin/node" ] || [ ! -x "$ROOT/.tools/bin/pulumi" ]; then
  echo "with-env.sh: warning: the pinned toolchain is missing from $ROOT/.tools: run 'npm run setup'" >&2
fi
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$ROOT/.pulumi-state}"
# A file backend's folder must exist before `pulumi login`/`stack select --create` (fresh clone).
case "$PULUMI_BACKEND_URL" in
  file://*) mkdir -p "${PULUMI_BACKEND_URL#file://}" ;;
esac
# The dev stack's secrets are encrypted with this well-known passphrase: dev holds only
# throwaway loopback keys. Prod stacks must set their own PULUMI_CONFIG_PASSPHRASE.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-cim-nats-dev}"
# Checkpoints (docs/dev.md, "Checkpoints"): the engine rewrites the whole state file after every
# resource step, which made a 957-resource dev-shaped `up` quadratic. Skipped — state written once
# at the end — only for a file backend with the dev passphrase, i.e. only the throwaway dev stack
# (the program refuses that passphrase for prod). A crash then loses the run's record of what it
# did; `pulumi refresh` / the next `up` recover it (docs/dev.md). Any other backend or
# passphrase (prod) keeps a checkpoint per step. An explicit PULUMI_SKIP_CHECKPOINTS wins.
case "$PULUMI_BACKEND_URL" in
  file://*)
    if [ "$PULUMI_CONFIG_PASSPHRASE" = "cim-nats-dev" ]; then
      export PULUMI_SKIP_CHECKPOINTS="${PULUMI_SKIP_CHECKPOINTS-true}"
    fi
    ;;
esac
exec "$@"
