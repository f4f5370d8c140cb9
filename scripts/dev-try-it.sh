#!/usr/bin/env bash
# Writes the dev stack's client creds (secret stack outputs) to .cim-dev/<stack>/clients/
# (0600; `npm run dev:down` removes them) with the nats contexts beside them, and prints the
# `nats` commands that show each reference service doing its job through its own context.
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
    // nats contexts (one per leaf, hub, hub-system, and <service>@<place>) point at the creds
    // above; natscli reads
    // them from $XDG_CONFIG_HOME/nats/context, so they live beside the creds, not in ~/.config.
    // With TLS the contexts name ca.pem here (the stack CA; public).
    if (out.tls && out.tls.caCert) fs.writeFileSync(path.join(dir, "ca.pem"), out.tls.caCert, { mode: 0o644 });
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

==> Try it (creds for: $USERS — in $REL/, mode 0600; one nats context per service and place):

  # 1. person-service writes an event at leaf $LEAF_NAME and gets the JetStream ack
  XDG_CONFIG_HOME=$REL nats --context person-service@$LEAF_NAME pub --jetstream person.events.created '{"id":"ada","name":"Ada Lovelace"}'

  # 2. it reads its domain's metadata at that leaf
  XDG_CONFIG_HOME=$REL nats --context person-service@$LEAF_NAME kv get PERSON_METADATA domain.name --raw

  # 3. projection-service pulls the event from the hub aggregate through its own consumer (and acks it)
  XDG_CONFIG_HOME=$REL nats --context projection-service@hub consumer next CLUSTER_PERSON_EVENTS person-projection

  # 4. and writes its projection, acked by PERSON_PROJECTIONS at the hub
  XDG_CONFIG_HOME=$REL nats --context projection-service@hub pub --jetstream person.projections.ada '{"name":"Ada Lovelace"}'

  # services can do their jobs and nothing else: the server refuses this one (Permissions Violation; the nats CLI
  # waits out its timeout and says "context deadline exceeded" — add --trace to see the refusal):
  XDG_CONFIG_HOME=$REL nats --context projection-service@hub stream rm PATTERNS -f

  # admin contexts (jetstream-admin: every leaf, hub; sys-monitor: hub-system):
  XDG_CONFIG_HOME=$REL nats --context hub stream ls
  XDG_CONFIG_HOME=$REL nats context ls

  (scripts/with-env.sh puts the pinned nats CLI on PATH: prefix each with 'bash scripts/with-env.sh'.
   Permissions per service: docs/security.md. Tear down with: npm run dev:down)
TRY
