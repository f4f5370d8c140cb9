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

/** One folder importing another, with the imports that make the edge (`jetstream/types.ts → config/units.ts`). */
export type FolderEdge = { readonly from: string; readonly to: string; readonly imports: readonly string[] };

/** Every TypeScript file below `dir` (node_modules left out). */
export function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? (e.name === "node_modules" ? [] : sourceFiles(path.join(dir, e.name))) : /\.(tsx?|mts)$/.test(e.name) ? [path.join(dir, e.name)] : []));
}

/** The folders directly below `dir` and which import which (relative imports only, type imports too). */
export function folderGraph(dir: string): Map<string, Map<string, string[]>> {
  const graph = new Map<string, Map<string, string[]>>();
  const rel = (f: string) => path.relative(dir, f).split(path.sep).join("/");
  for (const file of sourceFiles(dir)) {
    const from = rel(file).split("/")[0];
    for (const spec of specifiersOf(file)) {
      if (!spec.startsWith(".")) continue;
      const target = resolveRelative(file, spec);
      if (!target) throw new Error(`${rel(file)}: cannot resolve import '${spec}'`);
      const to = rel(target).split("/")[0];
      if (to === from || to.startsWith("..")) continue;
      const edges = graph.get(from) ?? new Map<string, string[]>();
      graph.set(from, edges);
      edges.set(to, [...(edges.get(to) ?? []), `${rel(file)} → ${rel(target)}`]);
    }
  }
  return graph;
}

/**
 * Every cycle among the folders below `dir`, each once, as its edges in order: `a → b → a` is a
 * two-way pair, longer ones pass through more folders. Empty when the folders form layers.
 */
export function folderCycles(dir: string): FolderEdge[][] {
  const graph = folderGraph(dir);
  const cycles: FolderEdge[][] = [];
  const seen = new Set<string>();
  const edge = (from: string, to: string): FolderEdge => ({ from, to, imports: graph.get(from)?.get(to) ?? [] });
  const visit = (start: string, at: string, trail: string[]): void => {
    for (const next of graph.get(at)?.keys() ?? []) {
      if (next === start) {
        const folders = [...trail];
        // One rotation per cycle: the one starting at its smallest folder name.
        const key = folders.join(" ");
        if (folders[0] === [...folders].sort()[0] && !seen.has(key)) {
          seen.add(key);
          cycles.push(folders.map((f, i) => edge(f, folders[(i + 1) % folders.length])));
        }
      } else if (!trail.includes(next) && next > start) {
        visit(start, next, [...trail, next]);
      }
    }
  };
  for (const start of [...graph.keys()].sort()) visit(start, start, [start]);
  return cycles;
}

/** A cycle as the folders it passes and, below, the imports that make each step. */
export function describeCycle(cycle: readonly FolderEdge[]): string {
  const folders = [...cycle.map((e) => e.from), cycle[0].from].join(" → ");
  return [folders, ...cycle.map((e) => `  ${e.from} → ${e.to}: ${e.imports.join(", ")}`)].join("\n");
}
