export * from "./nats-conf";
export * from "./nats-server-config";
export * from "./nixos-host";
export * from "./server-security";
export * from "./to-nix";
export * from "./server-tls";
export * from "./cluster-auth";
