/**
 * Prefixed, parseable resource ids, also the ids the `import` resource option takes:
 *   stream:<domain>/<name>          kv:<domain>/<bucket>          kv-entry:<domain>/<bucket>/<key>
 *   object-store:<domain>/<bucket>  consumer:<domain>/<stream>/<name>
 * Without a domain (a server's local JetStream API) the domain is empty: `stream:/ORDERS`.
 * KV keys may contain '/', so a kv-entry key takes the rest of the id.
 */

export type ResourceKind = "stream" | "kv" | "kv-entry" | "object-store" | "consumer";

const PARTS: Readonly<Record<ResourceKind, readonly string[]>> = {
  stream: ["stream"],
  kv: ["bucket"],
  "kv-entry": ["bucket", "key"],
  "object-store": ["bucket"],
  consumer: ["stream", "consumer"],
};

export function formatId(kind: ResourceKind, domain: string | undefined, ...names: string[]): string {
  return `${kind}:${domain ?? ""}/${names.join("/")}`;
}

/** Parses an id of `kind`; throws naming the expected format on a malformed one. */
export function parseId(kind: ResourceKind, id: string): { domain?: string; names: string[] } {
  const parts = PARTS[kind];
  const format = `${kind}:<domain>/${parts.map((p) => `<${p}>`).join("/")}`;
  const example = formatId(kind, "hub", ...parts.map((p) => p.toUpperCase()));
  const bad = (why: string) => new Error(`malformed ${kind} id '${id}': ${why}; expected ${format} (empty domain for none), e.g. ${example}`);
  if (typeof id !== "string" || !id.startsWith(`${kind}:`)) throw bad(`it must start with '${kind}:'`);
  const segs = id.slice(kind.length + 1).split("/");
  const open = kind === "kv-entry";
  if (segs.length < parts.length + 1 || (!open && segs.length > parts.length + 1)) {
    throw bad(`it has ${segs.length} '/'-separated part${segs.length === 1 ? "" : "s"}, not ${parts.length + 1}`);
  }
  const names = [...segs.slice(1, parts.length), segs.slice(parts.length).join("/")];
  names.forEach((n, i) => {
    if (!n) throw bad(`the ${parts[i]} is empty`);
  });
  return { domain: segs[0] || undefined, names };
}

/**
 * What a `read` by id needs: the id's names, and the target from the resource's props (a read
 * cannot guess servers or credentials), whose domain must be the id's.
 */
export function parseIdForRead<T>(kind: ResourceKind, id: string, target: T & { readonly domain?: string } | undefined): { names: string[]; target: T } {
  const { domain, names } = parseId(kind, id);
  if (!target) throw new Error(`cannot read ${id}: no target; give the resource its target (servers, credentials, domain) when importing`);
  if ((target.domain ?? "") !== (domain ?? "")) {
    throw new Error(`cannot read ${id}: its domain '${domain ?? ""}' differs from target.domain '${target.domain ?? ""}'; use the id ${formatId(kind, target.domain, ...names)}`);
  }
  return { names, target };
}
