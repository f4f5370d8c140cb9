import { describe, expect, it } from "vitest";
import { routeTransport, routeTransportChanges } from "../../components/render/route-transport";

const member = (cluster: Record<string, unknown>) => ({ server_name: "m", cluster: { name: "cim-hub", listen: "10.0.0.41:6222", ...cluster } });

describe("route transport", () => {
  it("is undefined for a server that is not a cluster member", () => {
    expect(routeTransport({ server_name: "leaf" })).toBeUndefined();
    expect(routeTransportChanges({ server_name: "leaf" }, member({}))).toEqual([]);
  });

  it("names each change two members cannot route across", () => {
    const old = member({ routes: ["nats-route://10.0.0.42:6222"] });
    const next = member({ name: "other", tls: { cert_file: "c", key_file: "k", ca_file: "a", verify: true }, include: "cluster-auth.conf" });
    expect(routeTransportChanges(old, next)).toEqual(["cluster name cim-hub -> other", "route TLS turned on", "route authorization turned on"]);
    expect(routeTransportChanges(next, old)).toEqual(["cluster name other -> cim-hub", "route TLS turned off", "route authorization turned off"]);
  });

  it("is unchanged by what members can differ in during a roll (routes, certificate paths, a new password in the include)", () => {
    const a = member({ tls: { cert_file: "c1", key_file: "k1", ca_file: "a", verify: true }, include: "cluster-auth.conf", routes: [] });
    const b = member({ tls: { cert_file: "c2", key_file: "k2", ca_file: "a", verify: true }, include: "cluster-auth.conf" });
    expect(routeTransportChanges(a, b)).toEqual([]);
  });
});
