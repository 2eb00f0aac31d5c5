/**
 * The architecture, enforced: layers import only downwards, there are no import cycles,
 * and algorithms and the mesh pipeline never touch the real clock, timers or Math.random
 * (the ESLint rule says the same; this test also catches a disabled lint rule).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(__dirname, '../src');

/** What each top-level folder of src/ may import (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  algorithms: ['core'],
  mesh: ['core', 'algorithms'],
  scenario: ['core', 'algorithms'],
  sim: ['core', 'algorithms', 'mesh', 'scenario'],
  live: ['core', 'algorithms', 'mesh', 'scenario'],
  runner: ['core', 'algorithms', 'mesh', 'scenario', 'sim', 'live'],
  report: ['core', 'scenario', 'sim', 'runner', '(root)'],
  cli: ['core', 'algorithms', 'mesh', 'scenario', 'sim', 'live', 'runner', 'report', '(root)'],
  '(root)': ['core', 'algorithms', 'mesh', 'scenario', 'sim', 'live', 'runner', 'report'],
};

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

function layerOf(file: string): string {
  const rel = relative(SRC, file).split('/');
  return rel.length === 1 ? '(root)' : rel[0];
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) out.push(m[1] ?? m[2]);
  return out;
}

function resolveLocal(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return resolve(dirname(from), spec.replace(/\.js$/, '.ts'));
}

const files = tsFiles(SRC);

describe('architecture', () => {
  it('finds the source tree', () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it('imports only point down the stack', () => {
    const violations: string[] = [];
    for (const f of files) {
      const from = layerOf(f);
      for (const spec of imports(f)) {
        const target = resolveLocal(f, spec);
        if (!target) continue;
        const to = layerOf(target);
        if (to !== from && !ALLOWED[from]?.includes(to)) violations.push(`${relative(SRC, f)} (${from}) imports ${spec} (${to})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('has no import cycles', () => {
    const graph = new Map(files.map((f) => [f, imports(f).map((s) => resolveLocal(f, s)).filter((t): t is string => t !== undefined)]));
    const state = new Map<string, 1 | 2>();
    const cycles: string[] = [];
    const visit = (f: string, stack: string[]): void => {
      if (state.get(f) === 2) return;
      if (state.get(f) === 1) {
        cycles.push([...stack.slice(stack.indexOf(f)), f].map((x) => relative(SRC, x)).join(' → '));
        return;
      }
      state.set(f, 1);
      for (const t of graph.get(f) ?? []) visit(t, [...stack, f]);
      state.set(f, 2);
    };
    for (const f of files) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it('algorithms and the mesh pipeline touch no real clock, timer or Math.random', () => {
    const forbidden = /\b(Date\.now|new Date\b|performance\.now|Math\.random|setTimeout|setInterval|setImmediate|queueMicrotask|process\.hrtime)\b/;
    const offenders: string[] = [];
    for (const f of files.filter((x) => ['algorithms', 'mesh'].includes(layerOf(x)))) {
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          const code = line.replace(/\/\/.*$/, '').replace(/^\s*\*.*$/, '');
          if (forbidden.test(code)) offenders.push(`${relative(SRC, f)}:${i + 1}: ${line.trim()}`);
        });
      for (const spec of imports(f)) if (spec.startsWith('node:') || ['fs', 'net', 'http', 'timers', 'perf_hooks'].includes(spec)) offenders.push(`${relative(SRC, f)} imports ${spec}`);
    }
    expect(offenders).toEqual([]);
  });
});
