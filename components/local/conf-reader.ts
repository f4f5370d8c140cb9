/**
 * Reads back a config written by formatNatsConf (components/render/nats-conf.ts) into its tree,
 * so an update can compare the config on disk with the new text (reload or restart?) without
 * keeping the text, which may be secret, in Pulumi state. Only the subset formatNatsConf writes
 * is understood (quoted strings, numbers, booleans, lists, blocks, `#` comments, one `include "<file>"` per
 * block); anything else (bare words, variables) gives undefined, and the caller restarts to be safe.
 * Node built-ins only (runs in the dynamic provider's process).
 */
import * as fs from "node:fs";
import type { NatsConfTree, NatsConfValue } from "../render/nats-conf";

/** `key` of the block `block` of a config read back (`jetstream.domain`), or undefined when either is absent. */
export function blockField(tree: NatsConfTree | undefined, block: string, key: string): NatsConfValue | undefined {
  const b = tree?.[block];
  return b !== undefined && typeof b === "object" && !Array.isArray(b) ? (b as Record<string, NatsConfValue>)[key] : undefined;
}

/** The CA certificate (PEM) a config's TLS client listener trusts, read from the file it names; undefined without one. */
export function caPemOf(tree: NatsConfTree | undefined): string | undefined {
  const caFile = blockField(tree, "tls", "ca_file");
  return typeof caFile === "string" ? fs.readFileSync(caFile, "utf8") : undefined;
}

class ConfSyntaxError extends Error {}

const UNESCAPES: Readonly<Record<string, string>> = { "\\": "\\", '"': '"', n: "\n", t: "\t", r: "\r" };

/** The tree of a formatNatsConf text, or undefined when the text uses anything else. */
export function readRenderedConf(text: string): NatsConfTree | undefined {
  try {
    const p = new Parser(text);
    const tree = p.entries(undefined);
    return tree;
  } catch (err) {
    if (err instanceof ConfSyntaxError) return undefined;
    throw err;
  }
}

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  private fail(what: string): never {
    throw new ConfSyntaxError(`${what} at offset ${this.i}`);
  }

  /** Skips spaces, newlines, commas/semicolons between entries, and comments. */
  private skip(): void {
    for (;;) {
      const c = this.s[this.i];
      if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "," || c === ";") this.i++;
      else if (c === "#" || (c === "/" && this.s[this.i + 1] === "/")) {
        while (this.i < this.s.length && this.s[this.i] !== "\n") this.i++;
      } else return;
    }
  }

  /** `key: value` entries until `close` (or the end of the text when close is undefined). */
  entries(close: "}" | undefined): NatsConfTree {
    const tree: Record<string, NatsConfValue> = {};
    for (;;) {
      this.skip();
      if (this.i >= this.s.length) {
        if (close) this.fail("unclosed block");
        return tree;
      }
      if (this.s[this.i] === close) {
        this.i++;
        return tree;
      }
      const key = this.key();
      while (this.s[this.i] === " " || this.s[this.i] === "\t") this.i++;
      // `include "<file>"` (formatNatsConf's include directive) reads back as the key `include`.
      if (key === "include" && this.s[this.i] === '"') {
        if (key in tree) this.fail("duplicate include");
        tree[key] = this.quoted();
        continue;
      }
      if (this.s[this.i] !== ":" && this.s[this.i] !== "=") this.fail(`expected ':' after key '${key}'`);
      this.i++;
      while (this.s[this.i] === " " || this.s[this.i] === "\t") this.i++;
      if (key in tree) this.fail(`duplicate key '${key}'`);
      tree[key] = this.value();
    }
  }

  private key(): string {
    if (this.s[this.i] === '"') return this.quoted();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.i, this.i + 200));
    if (!m) this.fail("expected a key");
    this.i += m[0].length;
    return m[0];
  }

  private quoted(): string {
    this.i++; // opening quote
    let out = "";
    for (;;) {
      const c = this.s[this.i++];
      if (c === undefined || c === "\n") this.fail("unterminated string");
      if (c === '"') return out;
      if (c === "\\") {
        const e = UNESCAPES[this.s[this.i++]];
        if (e === undefined) this.fail("unknown escape");
        out += e;
      } else out += c;
    }
  }

  private value(): NatsConfValue {
    const c = this.s[this.i];
    if (c === '"') return this.quoted();
    if (c === "{") {
      this.i++;
      return this.entries("}");
    }
    if (c === "[") {
      this.i++;
      const items: NatsConfValue[] = [];
      for (;;) {
        this.skip();
        if (this.s[this.i] === "]") {
          this.i++;
          return items;
        }
        if (this.i >= this.s.length) this.fail("unclosed list");
        items.push(this.value());
      }
    }
    const rest = this.s.slice(this.i, this.i + 64);
    const word = /^[^\s,;\]}]+/.exec(rest)?.[0] ?? "";
    if (word === "true" || word === "false") {
      this.i += word.length;
      return word === "true";
    }
    if (/^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(word)) {
      this.i += word.length;
      return Number(word);
    }
    return this.fail(`unsupported value '${word}' (only what formatNatsConf writes is read)`);
  }
}
