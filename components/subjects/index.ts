export * from "./subject";
