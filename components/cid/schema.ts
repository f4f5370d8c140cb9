/**
 * The `cim-nats:cidService` section as declared data, for the stack schema, the docs and the JSON
 * Schema (stack/config-schema.ts); spec.ts parses it against the topology, JetStream and
 * security. Pure.
 */
import { z } from "zod";
import { opt, port, req, size, text } from "../config/atoms";
import { DEFAULT_BUCKET, DEFAULT_SUBJECT_PREFIX } from "./cid";

export const DEFAULT_CID_HEALTH_PORT = 8290;

const name = text();

export const cidServiceSchema = z.strictObject({
  at: req(name, "host whose leaf the service connects to"),
  user: req(name, "security user it runs as"),
  bucket: opt(name, "object bucket it stores into", { default: DEFAULT_BUCKET }),
  subjectPrefix: opt(name, "subjects it serves: `<prefix>.put`, `<prefix>.get.<cid>`", { default: DEFAULT_SUBJECT_PREFIX }),
  healthPort: opt(port(), "HTTP health port", { default: DEFAULT_CID_HEALTH_PORT }),
  maxPendingBytes: opt(size(), "bytes of unfinished chunked uploads it holds at once, all clients together; a chunk over it is refused with 503 (retry later)", { default: "256M" }),
});
