#!/usr/bin/env bash
# Brings the dev stack up: every host of Pulumi.dev.yaml as nats-server processes on its loopback
# address, JetStream state, accounts and users — with the pinned Pulumi CLI and a file backend
# in the project (.pulumi-state/): no account, no network, no prompts. `npm start` ends here.
#
# Safe to re-run: nothing changed → nothing happens; a server that died (reboot) is restarted.
# Extra arguments go to `pulumi up` (e.g. `--diff`, `--refresh`).
#   CIM_NATS_STACK   stack to bring up (default: dev)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Everything runs with the pinned toolchain and the project's backend and passphrase.
if [ -z "${CIM_NATS_ROOT:-}" ]; then
  exec bash "$ROOT/scripts/with-env.sh" bash "${BASH_SOURCE[0]}" "$@"
fi
cd "$ROOT"
STACK="${CIM_NATS_STACK:-dev}"

for tool in pulumi nats-server pulumi-language-nodejs pulumi-resource-pulumi-nodejs; do
  command -v "$tool" >/dev/null 2>&1 || { echo "dev-up: '$tool' is not on PATH: run 'npm run setup' first" >&2; exit 1; }
done
case "${PULUMI_BACKEND_URL:-}" in
  file://*) mkdir -p "${PULUMI_BACKEND_URL#file://}" ;;
esac

pulumi stack select --create "$STACK" --non-interactive
# --skip-preview: under --yes nobody reads the preview, and it would run the program twice.
# `pulumi preview -s dev` shows the plan on its own.
pulumi up --yes --skip-preview --non-interactive -s "$STACK" "$@"

echo
echo "==> $STACK stack outputs (secrets hidden; add --show-secrets to see them):"
pulumi stack output -s "$STACK" --non-interactive
bash "$ROOT/scripts/dev-try-it.sh" "$STACK"
