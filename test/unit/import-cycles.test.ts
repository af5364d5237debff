// Import cycles make modules load half-initialized and make the code hard to read from the bottom up;
// packages reaching into each other's src/ bypass their public surface. Both are checked here, over the
// TypeScript sources of the services, the shared package and the local runner (type-only imports count: a
// reader follows them too).
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD_FOLDERS = ['dist', 'node_modules'];

/** The folders whose subfolders are packages. */
const PACKAGE_FOLDERS = ['services', 'infra'];

/**
 * The source roots checked for cycles: every `services/*\/src`, `infra/local/src` and `shared/src`
 * (infra/emulators is left out: its BigQuery format modules import each other).
 */
function sourceRoots(): string[] {
  const services = join(ROOT, 'services');
  const roots = readdirSync(services)
    .map((name) => join(services, name, 'src'))
    .filter((dir) => existsSync(dir) && statSync(dir).isDirectory());
  return [...roots, join(ROOT, 'infra', 'local', 'src'), join(ROOT, 'shared', 'src')];
}

/** The .ts files under `dir`, not descending into folders named in `skipped`. */
function tsFiles(dir: string, skipped: readonly string[]): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!skipped.includes(entry.name)) files.push(...tsFiles(path, skipped));
    } else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      files.push(path);
    }
  }
  return files;
}

/** The module specifiers a file imports or re-exports from, `import type` and dynamic `import()` included. */
function specifiers(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles.map((ref) => ref.fileName);
}

/** The .ts file a relative specifier names (`./x.js` → `./x.ts`, `./dir` → `./dir/index.ts`), if it exists. */
function resolveRelative(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier);
  const stem = base.replace(/\.(?:[cm]?js|tsx?)$/, '');
  const candidates = [`${stem}.ts`, `${stem}.tsx`, `${base}.ts`, join(base, 'index.ts')];
  return candidates.find((path) => existsSync(path) && statSync(path).isFile());
}

function importGraph(files: readonly string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = specifiers(file)
      .filter((s) => s.startsWith('.'))
      .map((s) => resolveRelative(file, s))
      .filter((target): target is string => target !== undefined && known.has(target));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** Tarjan's strongly connected components with more than one file, or one file importing itself. */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];

  function visit(node: string): void {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component.sort());
    }
  }

  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

const show = (file: string): string => relative(ROOT, file).split(sep).join('/');

/** The package folder (`services/x`, `infra/x` or `shared`) a path lies in. */
function packageOf(path: string): string | undefined {
  const parts = relative(ROOT, path).split(sep);
  if (parts[0] === 'shared') return 'shared';
  if (PACKAGE_FOLDERS.includes(parts[0]!) && parts.length > 1) return `${parts[0]}/${parts[1]}`;
  return undefined;
}

describe('the import graph of the services, the shared package and the local runner', () => {
  const files = sourceRoots().flatMap((root) => tsFiles(root, [...BUILD_FOLDERS, 'test']));

  it('finds the source files it checks', () => {
    expect(files.length).to.be.greaterThan(10);
    expect(files.map(show)).to.include.members(['shared/src/index.ts', 'infra/local/src/main.ts']);
  });

  it('has no import cycles, type-only imports included', () => {
    const found = cycles(importGraph(files)).map((component) => component.map(show).join(' <-> '));
    expect(found, `import cycles:\n  ${found.join('\n  ')}`).to.deep.equal([]);
  });

  it('has no package importing another package’s src/ (packages import each other by name)', () => {
    const offences: string[] = [];
    // Tests included: a test reaches another package through its name too.
    const checked = [
      ...PACKAGE_FOLDERS.map((folder) => join(ROOT, folder)),
      join(ROOT, 'shared', 'src'),
    ].flatMap((dir) => tsFiles(dir, BUILD_FOLDERS));
    for (const file of checked) {
      const own = packageOf(file);
      for (const specifier of specifiers(file)) {
        if (/^@bqbr\/[^/]+\/src(?:\/|$)/.test(specifier)) {
          offences.push(`${show(file)} imports ${specifier}`);
        } else if (specifier.startsWith('.')) {
          const target = resolve(dirname(file), specifier);
          const other = packageOf(target);
          if (other !== own && /(?:^|[/\\])src(?:[/\\]|$)/.test(relative(ROOT, target))) {
            offences.push(`${show(file)} imports ${specifier}`);
          }
        }
      }
    }
    expect(offences, `cross-package src/ imports:\n  ${offences.join('\n  ')}`).to.deep.equal([]);
  });
});
