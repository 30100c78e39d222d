import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * docs/ARCHITECTURE.md lists every import edge between modules; this reads the edges from the
 * sources and fails when the two disagree, so the picture stays true.
 */

/** The module a source file belongs to: its top folder, a top-level file, or a Node-only kernel file. */
function moduleOf(file: string): string {
  const parts = relative('src', file).split('/');
  if (parts.length === 1) return parts[0]!.replace(/\.ts$/, '');
  if (parts[0] === 'kernels' && /^(native|node)\.ts$/.test(parts[1]!)) {
    return `kernels/${parts[1]!.replace(/\.ts$/, '')}`;
  }
  return parts[0]!;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

function edgesInCode(): string[] {
  const edges = new Map<string, Set<string>>();
  for (const file of sourceFiles('src')) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s+'(\.[^']+)'/g)) {
      const target = normalize(join(dirname(file), m[1]!)).replace(/\.js$/, '.ts');
      const [a, b] = [moduleOf(file), moduleOf(target)];
      if (a === b) continue;
      if (!edges.has(a)) edges.set(a, new Set());
      edges.get(a)!.add(b);
    }
  }
  return [...edges.keys()].sort().map((a) => `${a} -> ${[...edges.get(a)!].sort().join(', ')}`);
}

function edgesInDocs(): string[] {
  const doc = readFileSync('docs/ARCHITECTURE.md', 'utf8');
  const block = /## The module graph[\s\S]*?```text\n([\s\S]*?)```/.exec(doc);
  if (!block) throw new Error('docs/ARCHITECTURE.md has no ```text block under "The module graph"');
  return block[1]!.trim().split('\n');
}

describe('docs/ARCHITECTURE.md', () => {
  it('lists exactly the import edges between modules that the sources have', () => {
    expect(edgesInDocs()).toEqual(edgesInCode());
  });
});
