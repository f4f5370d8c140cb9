/**
 * The declarative schema of every `cim-nats:*` stack config key, assembled from the sections each
 * capability declares beside its parser (topology/schema.ts, jetstream/schema.ts, …). From it come
 * docs/config.md and the editor JSON Schema schema/pulumi-stack.schema.json (config-reference.ts,
 * `npm run gen:config`; test/config/schema.test.ts keeps both current). Pure.
 */
import { z } from "zod";
import { opt, req } from "../config/atoms";
import { cidServiceSchema } from "../cid/schema";
import { jetstreamSchema } from "../jetstream/schema";
import { proxmoxSchema } from "../proxmox/schema";
import { securitySchema } from "../security/schema";
import { tlsSchema } from "../tls/schema";
import { topologySchema } from "../topology/schema";
import { Substrate } from "./stack-model";

/** A Pulumi secret as it sits in Pulumi.<stack>.yaml. */
const secret = z.strictObject({ secure: z.string() }).meta({ title: "secret" });

/** Every `cim-nats:*` key of Pulumi.<stack>.yaml. */
export const stackConfigSchema = {
  "cim-nats:substrate": opt(z.enum(Substrate), "where servers run: Proxmox LXC + NixOS, or local processes on loopback", { default: Substrate.Proxmox }),
  "cim-nats:allowDataLoss": opt(z.boolean(), "let destroy and replacements drop streams and buckets holding data", { default: false }),
  "cim-nats:topology": req(topologySchema, "hosts, hub and leaves"),
  "cim-nats:jetstream": opt(jetstreamSchema, "streams, buckets and consumers"),
  "cim-nats:security": req(securitySchema, "operator, accounts and users"),
  "cim-nats:proxmox": opt(proxmoxSchema, "Proxmox settings (substrate proxmox)"),
  "cim-nats:cidService": opt(cidServiceSchema, "the CID object service"),
  "cim-nats:tls": opt(tlsSchema, "TLS on every listener and link: generated (the stack's own CA), provided (yours) or off", { derived: "{ mode: generated }" }),
  "cim-nats:identitySeeds": opt(
    z.strictObject({ operator: opt(secret, "the operator's seed (SO…)"), accounts: opt(z.record(z.string(), secret), "account name → its seed (SA…)") }),
    "seeds of `security.identities.source: config`, each a secret: `pulumi config set --secret --path 'cim-nats:identitySeeds.accounts.PLATFORM'` (value on stdin)",
  ),
  "cim-nats:tlsCaKey": opt(secret, "private key (PKCS#8 PEM) of the CA of `tls.mode: provided` (`pulumi config set --secret`)"),
  "cim-nats:proxmoxApiToken": opt(secret, "Proxmox API token USER@REALM!TOKENID=SECRET (`pulumi config set --secret`)"),
  "cim-nats:sshPrivateKey": opt(secret, "SSH key of the deploy (`pulumi config set --secret`)"),
} as const;
