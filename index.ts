// cim-nats: one program for every stack; `cim-nats:substrate` picks local processes (dev) or
// Proxmox containers + NixOS (prod). See README.md and components/stack/program.ts.
import { plainPromiseStackTraces } from "./components/stack/promise-stack-traces";
import { program } from "./components/stack/program";

plainPromiseStackTraces();
export = program();
