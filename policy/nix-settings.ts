/**
 * Reads back the Nix that components/render/to-nix.ts writes (strings, numbers, booleans, null,
 * lists and attribute sets), so a policy can see the nats-server `settings` a prod host's
 * `host.nix` carries. Only that subset: anything else (paths, functions, interpolation) is an
 * error, and the caller reports the file as unreadable rather than guessing. Node built-ins only.
 */

export type NixData = string | number | boolean | null | readonly NixData[] | { readonly [key: string]: NixData };

export class NixSubsetError extends Error {}

/**
 * The value of the attribute assigned by a line `<attrPath> = …;` in `text` (e.g. `services.cim-nats`),
 * or undefined when no line assigns it (the module itself only mentions `options.services.cim-nats`).
 */
export function nixAttribute(text: string, attrPath: string): NixData | undefined {
  const m = new RegExp(`^[ \t]*${attrPath.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} = `, "m").exec(text);
  if (!m) return undefined;
  const p = new NixReader(text, m.index + m[0].length);
  return p.value();
}

const BARE = /[A-Za-z0-9_'-]/;
const UNESCAPES: Readonly<Record<string, string>> = { n: "\n", r: "\r", t: "\t", "\\": "\\", '"': '"', $: "$" };

class NixReader {
  constructor(private readonly s: string, private i: number) {}

  private fail(what: string): never {
    throw new NixSubsetError(`${what} at offset ${this.i} (host.nix is not what to-nix.ts writes)`);
  }

  private skip(): void {
    for (;;) {
      const c = this.s[this.i];
      if (c === " " || c === "\n" || c === "\t" || c === "\r") this.i++;
      else if (c === "#") while (this.i < this.s.length && this.s[this.i] !== "\n") this.i++;
      else return;
    }
  }

  value(): NixData {
    this.skip();
    const c = this.s[this.i];
    if (c === "{") return this.attrs();
    if (c === "[") return this.list();
    if (c === '"') return this.string();
    if (c === "(") {
      this.i++;
      const v = this.value();
      this.skip();
      if (this.s[this.i] !== ")") this.fail("expected ')'");
      this.i++;
      return v;
    }
    const m = /^(-?\d+(\.\d+)?)|^(true|false|null)\b/.exec(this.s.slice(this.i, this.i + 40));
    if (!m) this.fail("unsupported value");
    this.i += m[0].length;
    if (m[3] !== undefined) return m[3] === "null" ? null : m[3] === "true";
    return Number(m[1]);
  }

  private string(): string {
    this.i++;
    let out = "";
    for (;;) {
      const c = this.s[this.i++];
      if (c === undefined) this.fail("unterminated string");
      if (c === '"') return out;
      if (c === "$" && this.s[this.i] === "{") this.fail("interpolation");
      if (c === "\\") {
        const e = this.s[this.i++];
        out += UNESCAPES[e] ?? e;
      } else out += c;
    }
  }

  private list(): NixData[] {
    this.i++;
    const out: NixData[] = [];
    for (;;) {
      this.skip();
      if (this.s[this.i] === "]") {
        this.i++;
        return out;
      }
      out.push(this.value());
    }
  }

  private attrName(): string {
    this.skip();
    if (this.s[this.i] === '"') return this.string();
    const start = this.i;
    while (this.i < this.s.length && BARE.test(this.s[this.i])) this.i++;
    if (start === this.i) this.fail("expected an attribute name");
    return this.s.slice(start, this.i);
  }

  private attrs(): { [key: string]: NixData } {
    this.i++;
    const out: { [key: string]: NixData } = {};
    for (;;) {
      this.skip();
      if (this.s[this.i] === "}") {
        this.i++;
        return out;
      }
      const name = this.attrName();
      this.skip();
      if (this.s[this.i] !== "=") this.fail(`expected '=' after '${name}'`);
      this.i++;
      out[name] = this.value();
      this.skip();
      if (this.s[this.i] !== ";") this.fail(`expected ';' after '${name}'`);
      this.i++;
    }
  }
}
