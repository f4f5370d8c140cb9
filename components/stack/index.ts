export * from "./stack-model";
