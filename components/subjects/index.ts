export * from "./subject";
export * from "./cim-subjects";
