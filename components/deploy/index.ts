export * from "./files";
export * from "./scripts";
export * from "./build-script";
export * from "./rebuild-order";
export * from "./host-deployment";
export * from "./nixos-deployment";
export * from "./outputs";
export * from "./secret-outputs";
