/**
 * nats-server's configuration format as data: a plain JSON-able tree and its text form.
 * Both renderers (the nats-server config file and the NixOS `settings`) start from the same tree;
 * only this file knows how nats-server spells values on the page.
 */

/** A value in a nats-server config tree: what both the conf format and JSON can carry. */
export type NatsConfValue =
  | string
  | number
  | boolean
  | readonly NatsConfValue[]
  | { readonly [key: string]: NatsConfValue };

/** A nats-server config (or one block of it), keys spelled as nats-server spells them. */
export type NatsConfTree = { readonly [key: string]: NatsConfValue };

/** Keys that need no quotes (`server_name`, account public keys). Anything else is quoted. */
const BARE_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Escapes nats-server's lexer understands inside double quotes. */
const ESCAPES: Readonly<Record<string, string>> = { "\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r" };

/**
 * A string as a double-quoted conf literal. Always quoted: a bare `$X` would be read as a
 * variable reference and a bare `1G` as a size, and JWTs are long enough to hit both.
 */
export function quoteConfString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const escaped = ESCAPES[ch];
    if (escaped !== undefined) {
      out += escaped;
    } else if (ch < " " || ch === "\u007f") {
      throw new Error(
        `config string ${JSON.stringify(value)} contains control character U+${ch.codePointAt(0)!.toString(16).padStart(4, "0")}, ` +
          "which the nats-server config format cannot carry; remove it from the value",
      );
    } else {
      out += ch;
    }
  }
  return out + '"';
}

function formatKey(key: string): string {
  return BARE_KEY.test(key) ? key : quoteConfString(key);
}

function isTree(value: NatsConfValue): value is NatsConfTree {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function formatValue(value: NatsConfValue, indent: string, path: string): string {
  if (typeof value === "string") return quoteConfString(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`config value at ${path} is ${value}; use a finite number`);
    return String(value);
  }
  const inner = indent + "  ";
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    const items = value.map((v, i) => inner + formatValue(v, inner, `${path}[${i}]`));
    return `[\n${items.join("\n")}\n${indent}]`;
  }
  if (isTree(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) return "{}";
    return `{\n${formatEntries(value, inner, path)}\n${indent}}`;
  }
  throw new Error(`config value at ${path} has unsupported type ${typeof value}`);
}

/**
 * The key `include` is nats-server's include directive, written `include "<file>"` (a path
 * relative to the including config's folder; nats-server reads the file's entries into the
 * block). As a `key: value` entry nats-server would refuse it as an unknown field.
 */
export const INCLUDE_KEY = "include";

function formatEntries(tree: NatsConfTree, indent: string, path: string): string {
  return Object.entries(tree)
    .map(([key, v]) => {
      const p = path ? `${path}.${key}` : key;
      if (v === undefined || v === null) throw new Error(`config value at ${p} is ${v}; omit the key instead`);
      if (key === INCLUDE_KEY) {
        if (typeof v !== "string" || v.startsWith("/")) throw new Error(`config value at ${p} must be a relative file path (nats-server joins it to the config's folder)`);
        return `${indent}include ${quoteConfString(v)}`;
      }
      return `${indent}${formatKey(key)}: ${formatValue(v, indent, p)}`;
    })
    .join("\n");
}

/** The tree as nats-server config text (one `key: value` per line, nested blocks indented). */
export function formatNatsConf(tree: NatsConfTree): string {
  return formatEntries(tree, "", "") + "\n";
}
