#!/usr/bin/env bash
# Destroys the dev stack: stops every nats-server it started (by pid) and removes their data
# under .cim-dev/<stack>/. The stack itself (its config and history) stays, so `npm start`
# brings it back. Extra arguments go to `pulumi destroy`.
#   CIM_NATS_STACK   stack to destroy (default: dev)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${CIM_NATS_ROOT:-}" ]; then
  exec bash "$ROOT/scripts/with-env.sh" bash "${BASH_SOURCE[0]}" "$@"
fi
cd "$ROOT"
STACK="${CIM_NATS_STACK:-dev}"
case "${PULUMI_BACKEND_URL:-}" in
  file://*) mkdir -p "${PULUMI_BACKEND_URL#file://}" ;;
esac
if ! pulumi stack select "$STACK" --non-interactive >/dev/null 2>&1; then
  echo "dev-down: no '$STACK' stack in ${PULUMI_BACKEND_URL:-the backend}: nothing to destroy"
  exit 0
fi
pulumi destroy --yes --skip-preview --non-interactive -s "$STACK" "$@"
rm -rf "$ROOT/.cim-dev/$STACK/clients"
rmdir "$ROOT/.cim-dev/$STACK" 2>/dev/null || true
