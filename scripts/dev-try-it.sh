#!/usr/bin/env bash
# Writes the dev stack's client creds (secret stack outputs) to .cim-dev/<stack>/clients/
# (0600; `npm run dev:down` removes them) and prints three `nats` commands that show the
# system working: publish at a leaf, see the event in the hub aggregate, read a KV value.
# Run by dev-up.sh after `pulumi up`; safe to run again.
#   usage: scripts/dev-try-it.sh [stack]   (default: dev)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${CIM_NATS_ROOT:-}" ]; then
  exec bash "$ROOT/scripts/with-env.sh" bash "${BASH_SOURCE[0]}" "$@"
fi
STACK="${1:-${CIM_NATS_STACK:-dev}}"
CLIENTS="$ROOT/.cim-dev/$STACK/clients"
cd "$ROOT"

# The outputs hold creds: they go straight from pulumi to files, never to the terminal; only
# the (public) endpoints come back, as shell assignments.
eval "$(pulumi stack output --json --show-secrets -s "$STACK" --non-interactive |
  CLIENTS="$CLIENTS" node -e '
    const fs = require("fs"), path = require("path");
    const out = JSON.parse(fs.readFileSync(0, "utf8"));
    const dir = process.env.CLIENTS;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const creds = { ...(out.creds || {}), ...(out.jetstreamAdminCreds ? { "jetstream-admin": out.jetstreamAdminCreds } : {}) };
    for (const [user, text] of Object.entries(creds)) {
      const file = path.join(dir, `${user}.creds`);
      fs.writeFileSync(file, text, { mode: 0o600 });
      fs.chmodSync(file, 0o600);
    }
    // nats contexts (one per leaf, hub, hub-system) point at the creds above; natscli reads
    // them from $XDG_CONFIG_HOME/nats/context, so they live beside the creds, not in ~/.config.
    const ctxDir = path.join(dir, "nats", "context");
    fs.mkdirSync(ctxDir, { recursive: true, mode: 0o700 });
    for (const [name, json] of Object.entries(out.natsContexts || {})) {
      fs.writeFileSync(path.join(ctxDir, `${name}.json`), json, { mode: 0o600 });
    }
    // Prefer a leaf that shares its host with a hub member (nats-1 in dev): the typical service host.
    const hubHosts = ((out.hub || {}).clientUrls || []).map((u) => new URL(u).hostname);
    const leaves = Object.entries(out.leaves || {});
    const [leafName, leaf] = leaves.find(([, l]) => hubHosts.includes(new URL(l.clientUrl).hostname)) || leaves[0] || ["", { clientUrl: "" }];
    const q = (v) => "\x27" + String(v).replace(/\x27/g, "\x27\\\x27\x27") + "\x27";
    console.log(`LEAF_NAME=${q(leafName)} LEAF_URL=${q(leaf.clientUrl)} HUB_URLS=${q(((out.hub || {}).clientUrls || []).join(","))} USERS=${q(Object.keys(creds).join(" "))}`);
  ')"
REL="${CLIENTS#"$ROOT"/}"

cat <<TRY

==> Try it (creds for: $USERS — in $REL/, mode 0600):

  # 1. publish an event at leaf $LEAF_NAME as person-service
  nats --server $LEAF_URL --creds $REL/person-service.creds pub person.events.created '{"id":"ada","name":"Ada Lovelace"}'

  # 2. see it in the hub's aggregate stream (sourced from every leaf)
  nats --server $HUB_URLS --creds $REL/jetstream-admin.creds stream get CLUSTER_PERSON_EVENTS --last-for person.events.created

  # 3. read a KV value at the leaf
  nats --server $LEAF_URL --creds $REL/jetstream-admin.creds kv get PERSON_METADATA domain.name --raw

  # or use the generated contexts (one per leaf, hub, hub-system):
  XDG_CONFIG_HOME=$REL nats --context $LEAF_NAME stream ls

  (scripts/with-env.sh puts the pinned nats CLI on PATH: prefix each with 'bash scripts/with-env.sh'.
   Tear down with: npm run dev:down)
TRY
