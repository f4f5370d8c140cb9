export * from "./nats-process";
export * from "./process-identity";
export * from "./server-dir";
export * from "./local-server-crud";
export * from "./local-server";
export * from "./local-topology";
export * from "./local-files-crud";
export * from "./local-files";
