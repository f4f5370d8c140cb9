/**
 * The project's import graph as the TypeScript parser sees it: imports, `export … from`,
 * `import x = require()`, `require()`, `import()` and `import("…")` types (type-only imports
 * count too). Relative imports are followed transitively; packages are leaves.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";

/** Packages a pure module must never reach. */
export const FORBIDDEN = [/^@pulumi\//, /^@nats-io\/(transport-node|nats-core|jetstream|kv|obj)(\/|$)/, /^(node:)?child_process$/];

/** Every module specifier a file names, runtime or type-only. */
export function specifiersOf(file: string): string[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push(node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      out.push(node.moduleReference.expression.text);
    } else if (ts.isCallExpression(node) && node.arguments.length === 1 && ts.isStringLiteral(node.arguments[0])) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === "require")) out.push(node.arguments[0].text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      out.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** The file a relative specifier names (`./x` → x.ts or x/index.ts). */
function resolveRelative(from: string, spec: string): string | undefined {
  const base = path.resolve(path.dirname(from), spec);
  return [base, `${base}.ts`, `${base}.tsx`, path.join(base, "index.ts")].find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
}

/**
 * Each forbidden import reachable from `entry`, as the chain of project files that leads to it
 * (`a.ts → b.ts → @pulumi/pulumi`). Relative imports are followed; packages are leaves.
 */
export function forbiddenChains(entry: string, root: string): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  const rel = (f: string) => path.relative(root, f).split(path.sep).join("/");
  const walk = (file: string, chain: readonly string[]): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of specifiersOf(file)) {
      if (spec.startsWith(".")) {
        const target = resolveRelative(file, spec);
        if (!target) throw new Error(`${rel(file)}: cannot resolve import '${spec}'`);
        walk(target, [...chain, rel(target)]);
      } else if (FORBIDDEN.some((re) => re.test(spec))) {
        found.push([...chain, spec].join(" → "));
      }
    }
  };
  walk(entry, [rel(entry)]);
  return found;
}
