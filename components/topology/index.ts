export * from "./types";
export * from "./parse";
export * from "./rebase";
export * from "./endpoints";
