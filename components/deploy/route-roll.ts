/**
 * A hub host's part in rolling a route transport change (render/route-transport.ts: cluster name,
 * route TLS, route authorization) through the deploy. Pure: text out.
 *
 * Hub hosts switch one after another, each waiting for the full /healthz of its hub member
 * (JetStream-current) before the next restarts. Across a transport change that wait can never
 * pass on the first host: its member speaks the new transport, its peers the old one, it sees no
 * meta leader, the switch times out, and a re-run (same inputs) times out the same way. So each
 * hub host records the transport it last deployed healthily, in a small non-secret marker outside
 * the NixOS config (nothing restarts for it; only the switch reads it). A switch whose new
 * transport differs from the marker (or finds none: unknown, treated as changed) waits for its
 * hub member's own server only (`/healthz?js-server-only=true`), except on the last hub host of
 * the chain, which waits for the whole cluster. The marker is written after the health waits, so
 * a switch that failed half-way still counts as a change when it runs again.
 */
import type { RouteTransport } from "../render/route-transport";
import { shellQuote } from "./shell";

/** Where a hub host keeps the route transport it last deployed healthily. */
export const ROUTE_TRANSPORT_MARKER = "/var/lib/cim-nats/route-transport";

/** A hub host's route transport as the deploy records it. */
export type RouteTransportRecord = {
  /** Absolute path of the marker on the host (ROUTE_TRANSPORT_MARKER in prod). */
  readonly markerPath: string;
  /** The transport this deploy brings (routeTransportMarker). */
  readonly transport: string;
};

/** What a hub host's switch script needs to roll a transport change. */
export type HubRoll = RouteTransportRecord & {
  /** The host's hub member (its server name): the one whose wait the change relaxes. */
  readonly hubServer: string;
  /** The last hub host of the rebuild chain (rebuild-order.ts): it waits for the whole cluster. */
  readonly lastHubHost: string;
};

/** The marker's content: one line of JSON, the same fields routeTransportChanges compares. */
export function routeTransportMarker(transport: RouteTransport): string {
  return JSON.stringify({ name: transport.name, tls: transport.tls, auth: transport.auth });
}

/**
 * Lines of `deploy()` before anything is installed: `hub_healthz` is the hub member's wait, the
 * run's own ($HEALTHZ) unless an update changes the transport on a host before the chain's last.
 */
export function routeRollCheck(host: string, roll: HubRoll): string[] {
  const last = host === roll.lastHubHost;
  const why = last
    ? `${roll.hubServer} waits for the whole cluster (last hub host)`
    : `${roll.hubServer} waits for its own server only (peers not yet switched still route the old way; ${roll.lastHubHost}, the last hub host, waits for the cluster)`;
  return [
    `  local hub_healthz=$HEALTHZ was=''`,
    `  if [[ -f ${shellQuote(roll.markerPath)} ]]; then was=$(<${shellQuote(roll.markerPath)}); fi`,
    `  if [[ $HEALTHZ == /healthz && $was != ${shellQuote(roll.transport)} ]]; then`,
    ...(last ? [] : [`    hub_healthz='/healthz?js-server-only=true'`]),
    `    echo "cim-nats: route transport \${was:-unrecorded} -> "${shellQuote(`${roll.transport}: ${why}`)}`,
    "  fi",
  ];
}

/** Lines of `deploy()` after every wait passed: the transport this host now runs. */
export function routeRollRecord(roll: HubRoll): string[] {
  const marker = shellQuote(roll.markerPath);
  const next = shellQuote(`${roll.markerPath}.new`);
  return [`  install -d -m 0755 ${shellQuote(roll.markerPath.slice(0, roll.markerPath.lastIndexOf("/")) || "/")}`, `  printf '%s\\n' ${shellQuote(roll.transport)} >${next}`, `  mv -f ${next} ${marker}`];
}
