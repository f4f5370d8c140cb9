/**
 * Where a server's HTTP monitoring (/varz, /connz, /accountz, /jsz) listens. Those pages name
 * every client, account and stream, so by default they stay on the host: 127.0.0.1 in prod. A
 * host whose own address is already in 127/8 (the dev stack, tests) is loopback as it is, and
 * several such hosts share port numbers, so there `loopback` means the host's own address. Pure.
 */
import type { MonitoringListen } from "./types";

/** Whether an IPv4 address is in 127.0.0.0/8. */
export function isLoopbackAddress(address: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);
}

/** The address monitoring binds on a host at `hostAddress`. */
export function monitoringAddress(listen: MonitoringListen, hostAddress: string): string {
  switch (listen) {
    case "loopback":
      return isLoopbackAddress(hostAddress) ? hostAddress : "127.0.0.1";
    case "host":
      return hostAddress;
    default:
      return listen;
  }
}

/** Whether monitoring at `address` is reachable from other machines (and so opened in the firewall). */
export function monitoringExposed(address: string): boolean {
  return !isLoopbackAddress(address);
}
