/**
 * JSON-able data as a Nix expression. Strings stay strings (never Nix paths, which would be
 * copied into the world-readable store) and are escaped so no value can interpolate.
 */

/** A value `toNix` can write: JSON data. */
export type NixValue = string | number | boolean | null | readonly NixValue[] | { readonly [key: string]: NixValue };

const NIX_KEYWORDS = new Set(["if", "then", "else", "assert", "with", "let", "in", "rec", "inherit", "or"]);
const BARE_ATTR = /^[A-Za-z_][A-Za-z0-9_'-]*$/;

/** A string as a double-quoted Nix string literal; `${` is escaped so nothing interpolates. */
export function nixString(value: string): string {
  const escaped = value
    .replace(/\\/g, "\\\\")
    .replace(/"/g, '\\"')
    .replace(/\$\{/g, "\\${")
    .replace(/\n/g, "\\n")
    .replace(/\r/g, "\\r")
    .replace(/\t/g, "\\t");
  return `"${escaped}"`;
}

/** An attribute name: bare when Nix allows it, quoted otherwise. */
export function nixAttrName(key: string): string {
  return BARE_ATTR.test(key) && !NIX_KEYWORDS.has(key) ? key : nixString(key);
}

/** `value` as a Nix expression, indented by two spaces per level. */
export function toNix(value: NixValue, indent = ""): string {
  if (value === null) return "null";
  if (typeof value === "string") return nixString(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`cannot write ${value} as a Nix number`);
    // A list element must be a simple expression: `[ -1 ]` needs parentheses.
    return value < 0 ? `(${value})` : String(value);
  }
  const inner = indent + "  ";
  if (Array.isArray(value)) {
    if (value.length === 0) return "[ ]";
    return `[\n${value.map((v) => inner + toNix(v, inner)).join("\n")}\n${indent}]`;
  }
  const entries = Object.entries(value as { readonly [key: string]: NixValue });
  if (entries.length === 0) return "{ }";
  const lines = entries.map(([k, v]) => {
    if (v === undefined) throw new Error(`attribute '${k}' is undefined; omit it instead`);
    return `${inner}${nixAttrName(k)} = ${toNix(v, inner)};`;
  });
  return `{\n${lines.join("\n")}\n${indent}}`;
}
