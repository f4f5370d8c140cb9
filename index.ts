// cim-nats: one program for every stack; `cim-nats:substrate` picks local processes (dev) or
// Proxmox containers + NixOS (prod). See README.md and components/stack/program.ts.
import { program } from "./components/stack/program";

export = program();
